package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// startRedis runs redis-server on a free loopback port without persistence.
func startRedis(ctx context.Context, dir string) (string, func(), error) {
	port, err := freePort()
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

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeConfig writes a config with n load agents (password "load", hashed
// at bcrypt's lowest cost so that logging in a thousand desks is quick).
func writeConfig(dir string, n int) (string, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte("load"), bcrypt.MinCost)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	loadHeader(&b, dir, "")
	b.WriteString("agents:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {id: %q, name: 负载%d, password_hash: %q, skills: {general: 3}, capacity: {mailbox: 1}}\n",
			agentID(i), i, hash)
	}
	// The supervisor whose wallboards -wallboards opens; never seated.
	fmt.Fprintf(&b, "  - {id: \"999999\", name: 班长, password_hash: %q, skills: {general: 1}, capacity: {mailbox: 1}, role: supervisor}\n", hash)
	if err := writeDirectory(dir); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "load.yaml")
	return path, os.WriteFile(path, b.Bytes(), 0o600)
}

// loadHeader is the head of every load config: logins in bulk are the
// load's start, not an attack; one queue (so no menu, whose keys name
// others); the directory writeDirectory makes; sip settings, indented.
func loadHeader(b *bytes.Buffer, dir, sip string) {
	b.WriteString("auth:\n  login_hashes_per_second: 10000\n")
	b.WriteString("sip:\n  menus: {}\n" + sip)
	b.WriteString("queue:\n  offer_timeout: 60s\nqueues:\n  - {name: general, title: 综合受理, priority: 0}\n")
	b.WriteString("directory:\n  hotlines: " + filepath.Join(dir, "hotlines.csv") + "\n  mailboxes: " + filepath.Join(dir, "mailboxes.csv") + "\n")
}

// writeDirectory writes the load's directory: line 12345 and one mailbox.
func writeDirectory(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "hotlines.csv"), []byte("number,name,topic,queue,priority\n12345,成都市12345政务服务热线,综合,general,0\n"), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "mailboxes.csv"), []byte("id,name,owner,level,district,queue,email\nload-box,负载测试信箱,测试,city,全市,general,load@example.cn\n"), 0o600)
}

// startNode runs one lianxin process and waits for /readyz.
func startNode(ctx context.Context, bin, cfg, redisURL, id, dir string, env ...string) (string, *exec.Cmd, func(), error) {
	port, err := freePort()
	if err != nil {
		return "", nil, nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logf, err := os.Create(filepath.Join(dir, id+".log"))
	if err != nil {
		return "", nil, nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "-config", cfg)
	cmd.Env = append(os.Environ(), "LIANXIN_REDIS_URL="+redisURL, "LIANXIN_NODE_ID="+id, "LIANXIN_HTTP_ADDR="+addr, "LIANXIN_SMTP_ADDR=127.0.0.1:0",
		"LIANXIN_METRICS_ADDR=127.0.0.1:0", "LIANXIN_SIP_ADDR=127.0.0.1:0")
	cmd.Env = append(cmd.Env, env...) // the last of a duplicate key wins
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return "", nil, nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() }
	base := "http://" + addr
	for range 300 {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, cmd, stop, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return "", nil, nil, fmt.Errorf("node %s did not become ready (log in %s)", id, logf.Name())
}

func postLetter(ctx context.Context, base, subject string) error {
	body, _ := json.Marshal(map[string]string{"subject": subject, "text": "load test", "phone": "13800138000"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/channels/mailbox/load-box/letters", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("letter: status %d", resp.StatusCode)
	}
	return nil
}

func (r *recorder) report(o options, enqueued, routed time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lat := slices.Clone(r.lat)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	fmt.Printf("queued %d contacts in %s: %.0f contacts/s\n", o.contacts, enqueued.Round(time.Millisecond),
		float64(o.contacts)/enqueued.Seconds())
	fmt.Printf("routed %d contacts to %d agents in %s: %.0f contacts/s\n", r.got, o.agents, routed.Round(time.Millisecond),
		float64(r.got)/routed.Seconds())
	for msg, n := range r.errors {
		fmt.Printf("desk errors: %d × %s\n", n, msg)
	}
	fmt.Printf("enqueue-to-offer on the websocket: p50 %s  p90 %s  p99 %s  max %s\n",
		pct(0.50).Round(10*time.Microsecond), pct(0.90).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond),
		pct(1).Round(10*time.Microsecond))
}

// totalRSS is the resident memory of processes pids in bytes, from
// /proc/<pid>/status (VmRSS), or 0 where it cannot be read.
func totalRSS(pids []int) int64 {
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
