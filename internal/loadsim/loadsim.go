// Package loadsim holds what the load tools (cmd/lianxin-load,
// cmd/lianxin-surge) share: a redis-server and lianxin processes started on
// free loopback ports, desks logged in over real websockets, Redis's and the
// processes' own figures sampled, and percentiles.
package loadsim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
)

// StartRedis runs redis-server on a free loopback port without persistence
// and returns its URL and a function that stops it. redis-server takes no
// port 0, so the port is one that was free a moment before; it is tried
// again on another when taken in between.
func StartRedis(ctx context.Context, dir string) (url string, stop func(), err error) {
	for range 5 {
		if url, stop, err = startRedis(ctx, dir); err == nil {
			return url, stop, nil
		}
	}
	return "", nil, err
}

func startRedis(ctx context.Context, dir string) (string, func(), error) {
	port, err := FreePort()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, "redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("redis-server: %w", err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "Ready to accept connections") {
			go func() {
				for sc.Scan() {
				}
			}()
			return fmt.Sprintf("redis://127.0.0.1:%d/0", port), func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }, nil
		}
	}
	_ = cmd.Wait()
	return "", nil, fmt.Errorf("redis-server did not start")
}

// FreePort is a TCP port free on 127.0.0.1 a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Build builds the lianxin binary into dir and returns its path.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "lianxin")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/lianxin/lianxin/cmd/lianxin").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, out)
	}
	return bin, nil
}

// Node is one lianxin process StartNode started.
type Node struct {
	// Base is its HTTP base URL; SIP and SMTP its SIP (UDP and TCP) and
	// SMTP host:port; Metrics its /metrics URL.
	Base, SIP, SMTP, Metrics string
	Cmd                      *exec.Cmd
	// Log is the path of its log.
	Log string
}

// StartNode runs one lianxin process with config cfg and waits for
// /readyz. Its HTTP, SMTP, SIP and metrics listeners are on loopback, on
// ports the kernel chooses, read from the node's "serving" log line (no port
// is picked by closing a listener another process could take in between);
// env (KEY=value) overrides them. The log is dir/<id>.log. stop kills it.
func StartNode(ctx context.Context, bin, cfg, redisURL, id, dir string, env ...string) (*Node, func(), error) {
	logf, err := os.Create(filepath.Join(dir, id+".log"))
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "-config", cfg)
	cmd.Env = append(os.Environ(), "LIANXIN_REDIS_URL="+redisURL, "LIANXIN_NODE_ID="+id, "LIANXIN_HTTP_ADDR=127.0.0.1:0",
		"LIANXIN_SMTP_ADDR=127.0.0.1:0", "LIANXIN_METRICS_ADDR=127.0.0.1:0", "LIANXIN_SIP_ADDR=127.0.0.1:0")
	cmd.Env = append(cmd.Env, env...) // the last of a duplicate key wins
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() { _ = cmd.Process.Kill(); <-exited; logf.Close() }
	n := &Node{Cmd: cmd, Log: logf.Name()}
	for range 600 {
		if n.Base == "" {
			n.serving()
		}
		if n.Base != "" {
			if resp, err := http.Get(n.Base + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return n, stop, nil
				}
			}
		}
		select {
		case <-exited:
			stop()
			return nil, nil, fmt.Errorf("node %s exited (log in %s)", id, logf.Name())
		case <-time.After(100 * time.Millisecond):
		}
	}
	stop()
	return nil, nil, fmt.Errorf("node %s did not become ready (log in %s)", id, logf.Name())
}

// serving fills n's addresses from its log's serving line, once written.
func (n *Node) serving() {
	b, err := os.ReadFile(n.Log)
	if err != nil {
		return
	}
	if l, ok := ServingLine(string(b)); ok {
		n.SIP, n.SMTP, n.Metrics, n.Base = l.SIP, l.SMTP, l.Metrics, "http://"+l.HTTP
	}
}

// Serving is what a lianxin node's "serving" log line (JSON) says of its
// listeners: HTTP, SIP and SMTP host:port, and the metrics URL.
type Serving struct{ HTTP, SIP, SMTP, Metrics string }

// ServingLine finds the serving line in log, a node's output so far.
func ServingLine(log string) (Serving, bool) {
	for line := range strings.Lines(log) {
		var l struct {
			Msg string
			Serving
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving" {
			return l.Serving, true
		}
	}
	return Serving{}, false
}

// ReadyDesks logs agents ids in (password pw) on bases, round robin, dials
// their desks and makes each ready, 16 at a time (below the 20 logins in
// flight one address may have).
func ReadyDesks(ctx context.Context, bases, ids []string, pw string) ([]*desktest.Client, error) {
	desks := make([]*desktest.Client, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, id := range ids {
		g.Go(func() error {
			base := bases[i%len(bases)]
			tok, err := desktest.Login(gctx, base, id, pw)
			if err != nil {
				return err
			}
			c, _, err := desktest.Dial(gctx, base, tok)
			if err != nil {
				return fmt.Errorf("desk %s: %w", id, err)
			}
			if _, err := c.Send("ready", nil); err != nil {
				return err
			}
			for {
				m, err := c.Next(gctx, "state")
				if err != nil {
					return fmt.Errorf("desk %s: %w", id, err)
				}
				if m.State == "ready" {
					break
				}
			}
			desks[i] = c
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		for _, c := range desks {
			if c != nil {
				_ = c.Close()
			}
		}
		return nil, err
	}
	return desks, nil
}

// Percentiles sorts lat and returns a function giving its p-quantile
// (0 ≤ p ≤ 1; 0 when lat is empty).
func Percentiles(lat []time.Duration) func(p float64) time.Duration {
	lat = slices.Clone(lat)
	slices.Sort(lat)
	return func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
}

// TotalRSS is the resident memory of processes pids in bytes, from
// /proc/<pid>/status (VmRSS), or 0 where it cannot be read.
func TotalRSS(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return 0
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				sum += kb * 1024
			}
		}
	}
	return sum
}

// RSS is a process's VmRSS as /proc shows it ("?" when unreadable).
func RSS(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
		}
	}
	return "?"
}

// CPUTicks is a process's user+system CPU time in clock ticks (1/100 s).
func CPUTicks(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return ut + st, nil
}

// Scrape reads a Prometheus text page into series → value.
func Scrape(ctx context.Context, url string) (map[string]float64, error) {
	body, err := page(ctx, url)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// RedisSample is what INFO says of Redis at one moment.
type RedisSample struct {
	At         time.Time
	CPU        float64 // used_cpu_sys + used_cpu_user, seconds
	UsedMemory int64   // used_memory, bytes
	RSS        int64   // used_memory_rss, bytes
	Keys       int64   // keys in db0
	Commands   int64   // total_commands_processed
}

// SampleRedis reads INFO cpu, memory, stats and keyspace.
func SampleRedis(ctx context.Context, rdb *redis.Client) (RedisSample, error) {
	s := RedisSample{At: time.Now()}
	info, err := rdb.Info(ctx, "cpu", "memory", "stats", "keyspace").Result()
	if err != nil {
		return s, err
	}
	var sys, user float64
	for _, line := range strings.Split(info, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "used_cpu_sys":
			sys, _ = strconv.ParseFloat(v, 64)
		case "used_cpu_user":
			user, _ = strconv.ParseFloat(v, 64)
		case "used_memory":
			s.UsedMemory, _ = strconv.ParseInt(v, 10, 64)
		case "used_memory_rss":
			s.RSS, _ = strconv.ParseInt(v, 10, 64)
		case "total_commands_processed":
			s.Commands, _ = strconv.ParseInt(v, 10, 64)
		case "db0":
			if ks, _, ok := strings.Cut(strings.TrimPrefix(v, "keys="), ","); ok {
				s.Keys, _ = strconv.ParseInt(ks, 10, 64)
			}
		}
	}
	s.CPU = sys + user
	return s, nil
}

// MiB formats bytes in MiB.
func MiB(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// Profile starts, on a node serving Go's profiler at debugAddr
// (LIANXIN_DEBUG_ADDR), a CPU profile and an allocation profile over the
// next seconds, written to dir as cpu.pprof and allocs.pprof (the
// allocations made in that span, not since the start). The function it
// returns waits for both.
func Profile(ctx context.Context, debugAddr, dir string, seconds int) func() error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return func() error { return err }
	}
	var g errgroup.Group
	for _, p := range []struct{ path, file string }{{"profile", "cpu.pprof"}, {"allocs", "allocs.pprof"}} {
		g.Go(func() error {
			u := fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", debugAddr, p.path, seconds)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: status %d", u, resp.StatusCode)
			}
			f, err := os.Create(filepath.Join(dir, p.file))
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, resp.Body); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		})
	}
	return g.Wait
}
