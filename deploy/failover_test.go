//go:build linux

// Package deploy holds the multi-node deployment's configuration files and
// the scenario test that runs them (README.md).
package deploy

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lianxin/lianxin/internal/loadsim"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestMultiNodeFailover runs the deployment of this folder on loopback
// addresses with the shipped files (only their ports changed): a Redis
// primary and replica, three sentinels, three lianxin nodes (the built
// binary) with redis.wait_replicas 1, Kamailio's dispatcher in front of their
// SIP and HAProxy in front of their HTTP. Letters are posted through HAProxy
// the way a provider does (a new Idempotency-Key per letter, the same key
// again until it is answered 202) and calls placed with sipp through
// Kamailio while node 2 is killed -9 and then the Redis primary is killed -9
// and Sentinel promotes the replica (the old primary comes back as a replica
// once the promotion is done, as an operator or a supervisor would bring it
// back). At the end, on the new primary: every acknowledged letter is there
// exactly once, and every call is queued at most once; every call answered by
// a node that stayed up is queued. Every call answered by the killed node is
// a callback contact (a call is a contact from its answer, so one still in
// the welcome is one too): 0 answered calls without a contact.
func TestMultiNodeFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Redis, three sentinels, three nodes, Kamailio and HAProxy")
	}
	siptest.RequireTools(t, "sipp", "kamailio", "haproxy", "redis-sentinel", "redis-server")
	bin := buildLianxin(t)
	dir := t.TempDir()
	if keep := os.Getenv("LIANXIN_DEPLOY_DIR"); keep != "" { // keep the logs and files
		dir = keep
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	ctx := context.Background()

	// Redis: primary, replica (LIANXIN_DEPLOY_REPLICAS=2: two), three sentinels.
	primary := queuetest.RedisServer(t)
	replicas := map[string]bool{queuetest.Replica(t, primary).Addr: true}
	if os.Getenv("LIANXIN_DEPLOY_REPLICAS") == "2" {
		replicas[queuetest.Replica(t, primary).Addr] = true
	}
	var sentinels []string
	for i := range 3 {
		port := freeTCP(t)
		conf := rewrite(t, "sentinel.conf", map[string]string{
			"port 26379":                   "port " + strconv.Itoa(port),
			"dir /var/lib/redis":           "dir " + dir,
			"lianxin 127.0.0.1 6379 2":     "lianxin " + strings.Replace(primary.Addr, ":", " ", 1) + " 2",
			"# Run: redis-sentinel deploy": "# (test copy) redis-sentinel deploy",
		})
		path := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", i))
		require.NoError(t, os.WriteFile(path, conf, 0o600))
		addr := "127.0.0.1:" + strconv.Itoa(port)
		start(t, dir, fmt.Sprintf("sentinel-%d", i), "redis-sentinel", path)
		sentinels = append(sentinels, addr)
	}
	waitSentinels(t, sentinels, len(replicas))

	// Three nodes.
	cfgPath, err := filepath.Abs("lianxin.yaml")
	require.NoError(t, err)
	type node struct {
		http, sip string
		p         *process
	}
	nodes := make([]node, 3)
	for i := range nodes {
		n := &nodes[i]
		nd := filepath.Join(dir, fmt.Sprintf("node%d", i+1))
		require.NoError(t, os.MkdirAll(nd, 0o755))
		// Every listener on a port the kernel chooses, read from the node's
		// serving line: no port picked by closing a listener another test
		// could take in between.
		n.p = startIn(t, nd, fmt.Sprintf("node%d", i+1), []string{"LIANXIN_CONFIG=" + cfgPath,
			"LIANXIN_REDIS_SENTINELS=" + strings.Join(sentinels, ","), fmt.Sprintf("LIANXIN_NODE_ID=node%d", i+1),
			"LIANXIN_HTTP_ADDR=127.0.0.1:0", "LIANXIN_SIP_ADDR=127.0.0.1:0", "LIANXIN_SIP_ADVERTISE_IP=127.0.0.1",
			"LIANXIN_SMTP_ADDR=127.0.0.1:0", "LIANXIN_METRICS_ADDR=127.0.0.1:0"}, bin)
	}
	for i := range nodes {
		nodes[i].http, nodes[i].sip = serving(t, nodes[i].p)
	}
	for i := range nodes {
		waitHTTP(t, "http://"+nodes[i].http+"/readyz", nodes[i].p)
	}

	// Kamailio and HAProxy with the shipped files, ports changed.
	kam := fmt.Sprintf("127.0.0.1:%d", siptest.FreeUDPPort(t))
	list := rewrite(t, "dispatcher.list", map[string]string{
		"127.0.0.1:5071": nodes[0].sip, "127.0.0.1:5072": nodes[1].sip, "127.0.0.1:5073": nodes[2].sip})
	listPath := filepath.Join(dir, "dispatcher.list")
	require.NoError(t, os.WriteFile(listPath, list, 0o600))
	kcfg := rewrite(t, "kamailio.cfg", map[string]string{"127.0.0.1:5060": kam,
		"/etc/kamailio/dispatcher.list": listPath})
	kcfgPath := filepath.Join(dir, "kamailio.cfg")
	require.NoError(t, os.WriteFile(kcfgPath, kcfg, 0o600))
	krun := filepath.Join(dir, "kamailio-run")
	require.NoError(t, os.MkdirAll(krun, 0o755))
	start(t, dir, "kamailio", "kamailio", "-f", kcfgPath, "-DD", "-E", "-m", "64", "-M", "8", "-Y", krun)

	web := fmt.Sprintf("127.0.0.1:%d", freeTCP(t))
	hcfg := rewrite(t, "haproxy.cfg", map[string]string{"bind 127.0.0.1:8080": "bind " + web,
		"127.0.0.1:8081": nodes[0].http, "127.0.0.1:8082": nodes[1].http, "127.0.0.1:8083": nodes[2].http})
	hcfgPath := filepath.Join(dir, "haproxy.cfg")
	require.NoError(t, os.WriteFile(hcfgPath, hcfg, 0o600))
	hap := start(t, dir, "haproxy", "haproxy", "-f", hcfgPath, "-db")
	waitHTTP(t, "http://"+web+"/readyz", hap)

	// Letters through HAProxy, as providers send them.
	mailbox := firstMailbox(t)
	letters := &letterLog{acked: map[string]string{}}
	stop := make(chan struct{})
	var posters sync.WaitGroup
	for w := range 3 {
		posters.Add(1)
		go func() {
			defer posters.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				letters.post(t, "http://"+web+"/channels/mailbox/"+mailbox+"/letters", fmt.Sprintf("mn-%d-%04d", w, i))
				time.Sleep(40 * time.Millisecond)
			}
		}()
	}

	// Calls through Kamailio: one a second, each twelve seconds long (the
	// welcome and notice take about five before the call is queued).
	t0 := time.Now()
	caller := siptest.Sipp(t, siptest.SippOptions{Scenario: "caller.xml", Target: kam, Service: "12315", Calls: 40,
		Rate: 1, Limit: 10, Trace: true, Vars: map[string]string{"hold_ms": strconv.Itoa(int(callLength.Milliseconds()))}})

	time.Sleep(8 * time.Second)
	tNodeKill := time.Now()
	nodes[1].p.kill()
	t.Logf("node2 killed -9 at %.1fs", time.Since(t0).Seconds())

	time.Sleep(6 * time.Second)
	oldPrimary := primary.Addr
	tKill := time.Now()
	primary.Kill()
	newPrimary := waitSwitch(t, sentinels, oldPrimary)
	failover := time.Since(tKill)
	t.Logf("redis primary %s killed -9 at %.1fs; sentinels name %s after %v", oldPrimary,
		tKill.Sub(t0).Seconds(), newPrimary, failover.Round(time.Millisecond))
	require.True(t, replicas[newPrimary], "%s is not one of the replicas", newPrimary)
	primary.Restart(t) // back, and made a replica of the new primary by the sentinels
	queuetest.WaitReplicaUp(t, primary)
	rejoined := time.Since(tKill)
	t.Logf("old primary is a replica again %v after the kill", rejoined.Round(time.Millisecond))

	<-caller.Done() // the letters go on until the last call is over
	close(stop)
	posters.Wait()
	// Calls held by the killed node fail (their BYE is not answered): sipp
	// exits 1. What matters is below.
	res, err := caller.Wait()
	require.Contains(t, []int{0, 1}, res.ExitCode, "sipp: %v", err)
	t.Logf("sipp: %d calls, %d successful, %d failed", res.Created, res.Successful, res.Failed)

	// What the new primary holds.
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "lianxin", SentinelAddrs: sentinels})
	defer fc.Close()
	subjects := map[string][]string{} // subject -> tracking numbers
	calls := map[string][]string{}    // Call-ID -> tracking numbers
	callbacks := map[string]bool{}    // Call-ID -> its contact is a callback
	iter := fc.Scan(ctx, 0, "{lianxin}:c:*", 1000).Iterator()
	for iter.Next(ctx) {
		f, err := fc.HMGet(ctx, iter.Val(), "tn", "d", "ch", "call", "callback").Result()
		require.NoError(t, err)
		tn, _ := f[0].(string)
		d, _ := f[1].(string)
		ch, _ := f[2].(string)
		if tn == "" || d == "" {
			continue // not a contact's hash
		}
		var in struct {
			Subject string `json:"subject"`
		}
		require.NoError(t, json.Unmarshal([]byte(d), &in), "%s", d)
		if ch == "voice" {
			id, _ := f[3].(string)
			calls[id] = append(calls[id], tn)
			if cb, _ := f[4].(string); cb == "1" {
				callbacks[id] = true
			}
		} else {
			subjects[in.Subject] = append(subjects[in.Subject], tn)
		}
	}
	require.NoError(t, iter.Err())
	t.Logf("on the new primary: %d letters, %d calls", len(subjects), len(calls))

	// Letters: every acknowledged one there, once.
	letters.mu.Lock()
	acked := letters.acked
	letters.mu.Unlock()
	require.NotEmpty(t, acked)
	lost, doubled := 0, 0
	for key, tn := range acked {
		got := subjects[key]
		switch {
		case len(got) == 0:
			lost++
			t.Errorf("letter %s acknowledged as %s is not in Redis after the failover", key, tn)
		case len(got) > 1:
			doubled++
			t.Errorf("letter %s is in Redis %d times: %v", key, len(got), got)
		case got[0] != tn:
			t.Errorf("letter %s acknowledged as %s is in Redis as %s", key, tn, got[0])
		}
	}
	pause, at := letters.longestGap(tKill)
	t.Logf("letters: %d acknowledged (%d answers 503, %d 502/other, %d connection errors), %d lost, %d doubled",
		len(acked), letters.unavailable, letters.other, letters.connErrs, lost, doubled)
	t.Logf("acknowledgements paused %v at the longest after the Redis kill (from %.1fs); longest gap after the node kill: %v",
		pause.Round(time.Millisecond), at.Sub(t0).Seconds(), gapAround(letters, tNodeKill).Round(time.Millisecond))

	// Calls: none queued twice. A call is queued (the node's enqueue
	// acknowledged) only when the replica has it: a caller who hangs up
	// while Redis fails over hears hold music meanwhile and may leave
	// unqueued. Every call answered by a node that stayed up, and ended before
	// the Redis kill or answered after acknowledgements resumed, is queued.
	resumed := at.Add(pause)
	answered := answeredCalls(t, caller.Messages())
	killedPort := nodes[1].sip[strings.LastIndex(nodes[1].sip, ":")+1:]
	var unqueued, onKilled, duringFailover []string
	killedCallbacks := 0
	for id, a := range answered {
		if a.port == killedPort && a.at.Before(tNodeKill) {
			// A call is a contact from its answer: the killed node's callers,
			// in the welcome or queued, are callbacks now.
			if len(calls[id]) == 1 && callbacks[id] {
				killedCallbacks++
			} else {
				t.Errorf("call %s answered by the killed node is no callback contact: %v", id, calls[id])
			}
		}
		switch n := len(calls[id]); {
		case n > 1:
			t.Errorf("call %s queued %d times: %v", id, n, calls[id])
		case n == 1:
		case a.port == killedPort:
			onKilled = append(onKilled, id)
		case a.at.Add(callLength).Before(tKill) || a.at.After(resumed):
			unqueued = append(unqueued, id)
		default:
			duringFailover = append(duringFailover, id)
		}
	}
	sort.Strings(unqueued)
	require.Empty(t, unqueued, "calls answered by a node that stayed up, away from the failover, never queued")
	require.Empty(t, onKilled, "calls answered by the killed node with no contact")
	require.NotEmpty(t, answered)
	t.Logf("calls: %d answered, %d with a contact (%d answered by the killed node, all callbacks now); without one: "+
		"%d answered by the killed node %v, %d whose caller hung up during the failover %v", len(answered), len(calls),
		killedCallbacks, len(onKilled), onKilled, len(duringFailover), duringFailover)
}

// callLength is how long sipp's callers stay on the line (hold_ms).
const callLength = 12 * time.Second

// letterLog is what the posters saw.
type letterLog struct {
	mu                                 sync.Mutex
	acked                              map[string]string // Idempotency-Key -> tracking number
	times                              []time.Time       // every 202, in order
	unavailable, other, connErrs, gave int
}

// post sends one letter until it is answered 202 (at most a minute).
func (l *letterLog) post(t *testing.T, url, key string) {
	body, _ := json.Marshal(map[string]string{"name": "王建国", "phone": "138 0013 8000", "subject": key,
		"text": "小区门口路灯坏了一个月，晚上很黑，请尽快修理。"})
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := client.Do(req)
		if err != nil {
			l.count(&l.connErrs)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusAccepted:
			var r struct {
				TrackingNo string `json:"tracking_no"`
			}
			if err := json.Unmarshal(raw, &r); err != nil || r.TrackingNo == "" {
				t.Errorf("202 without a tracking number: %s", raw)
				return
			}
			l.mu.Lock()
			if prev, ok := l.acked[key]; ok && prev != r.TrackingNo {
				t.Errorf("letter %s acknowledged twice, as %s and %s", key, prev, r.TrackingNo)
			}
			l.acked[key] = r.TrackingNo
			l.times = append(l.times, time.Now())
			l.mu.Unlock()
			return
		case http.StatusServiceUnavailable:
			l.count(&l.unavailable)
		default:
			l.count(&l.other)
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.count(&l.gave)
}

func (l *letterLog) count(n *int) {
	l.mu.Lock()
	*n++
	l.mu.Unlock()
}

// longestGap is the longest time without an acknowledgement that began
// after from, and when it began.
func (l *letterLog) longestGap(from time.Time) (time.Duration, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best time.Duration
	at := from
	prev := from
	for _, ts := range l.times {
		if ts.Before(from) {
			continue
		}
		if d := ts.Sub(prev); d > best {
			best, at = d, prev
		}
		prev = ts
	}
	return best, at
}

// gapAround is the gap between acknowledgements that spans t.
func gapAround(l *letterLog, t time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := 1; i < len(l.times); i++ {
		if l.times[i].After(t) {
			return l.times[i].Sub(l.times[i-1])
		}
	}
	return 0
}

var (
	sippBlock = regexp.MustCompile(`(?m)^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\s*$`)
	contactRe = regexp.MustCompile(`(?mi)^(?:Contact|m):.*?:(\d+)[;>\s]`)
	callIDRe  = regexp.MustCompile(`(?mi)^(?:Call-ID|i):\s*(\S+)`)
	inviteRe  = regexp.MustCompile(`(?mi)^CSeq:\s*1 INVITE`)
)

// answer is when sipp got a call's 200 and from which node (its SIP port).
type answer struct {
	at   time.Time
	port string
}

// answeredCalls reads sipp's message log: every INVITE answered 200, by
// Call-ID.
func answeredCalls(t *testing.T, log string) map[string]answer {
	t.Helper()
	out := map[string]answer{}
	heads := sippBlock.FindAllStringSubmatchIndex(log, -1)
	for i, h := range heads {
		end := len(log)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		b := log[h[1]:end]
		if !strings.Contains(b, "message received") {
			continue
		}
		j := strings.Index(b, "SIP/2.0 200")
		if j < 0 || !inviteRe.MatchString(b) {
			continue
		}
		id := callIDRe.FindStringSubmatch(b)
		c := contactRe.FindStringSubmatch(b[j:])
		require.True(t, id != nil && c != nil, "a 200 without Call-ID or Contact: %s", b)
		at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", log[h[2]:h[3]], time.Local)
		require.NoError(t, err)
		if _, seen := out[id[1]]; !seen { // not a retransmission
			out[id[1]] = answer{at: at, port: c[1]}
		}
	}
	return out
}

// process is one program the scenario started, in a process group of its
// own (Kamailio forks workers) that dies with the test.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func start(t *testing.T, dir, name, prog string, args ...string) *process {
	return startIn(t, dir, name, nil, prog, args...)
}

func startIn(t *testing.T, dir, name string, env []string, prog string, args ...string) *process {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start(), "start %s", name)
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("%s (end of its log):\n%s", name, b)
		}
	})
	return p
}

// kill sends SIGKILL to the process's group and waits for the process.
func (p *process) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

func buildLianxin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lianxin")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/lianxin").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// rewrite reads a file of this folder and replaces each key by its value;
// every key must occur, so a file that changed fails here, not later.
func rewrite(t *testing.T, name string, repl map[string]string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	s := string(b)
	for k, v := range repl {
		require.Contains(t, s, k, "%s no longer holds %q", name, k)
		s = strings.ReplaceAll(s, k, v)
	}
	return []byte(s)
}

func freeTCP(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serving waits for lianxin process p's serving log line and returns its
// HTTP and SIP addresses.
func serving(t *testing.T, p *process) (httpAddr, sipAddr string) {
	t.Helper()
	for i := 0; ; i++ {
		b, _ := os.ReadFile(p.log)
		if l, ok := loadsim.ServingLine(string(b)); ok {
			return l.HTTP, l.SIP
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before serving", p.name)
		case <-time.After(100 * time.Millisecond):
		}
		require.Less(t, i, 600, "%s did not come up", p.name)
	}
}

func waitHTTP(t *testing.T, url string, p *process) {
	t.Helper()
	for i := 0; ; i++ {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.done:
			b, _ := os.ReadFile(p.log)
			t.Fatalf("%s exited: %s", p.name, b)
		case <-time.After(100 * time.Millisecond):
		}
		require.Less(t, i, 600, "%s not ready after a minute", url)
	}
}

// waitSentinels waits until every sentinel knows the replicas and the two
// other sentinels, so that a failover can be agreed.
func waitSentinels(t *testing.T, addrs []string, replicas int) {
	t.Helper()
	ctx := context.Background()
	for _, a := range addrs {
		c := redis.NewSentinelClient(&redis.Options{Addr: a})
		for i := 0; ; i++ {
			reps, err1 := c.Replicas(ctx, "lianxin").Result()
			sens, err2 := c.Sentinels(ctx, "lianxin").Result()
			if err1 == nil && err2 == nil && len(reps) >= replicas && len(sens) >= len(addrs)-1 {
				break
			}
			require.Less(t, i, 600, "sentinel %s: replicas %v (%v), sentinels %d (%v)", a, reps, err1, len(sens), err2)
			time.Sleep(100 * time.Millisecond)
		}
		_ = c.Close()
	}
}

// waitSwitch waits until a majority of the sentinels name a primary other
// than old, and returns it.
func waitSwitch(t *testing.T, addrs []string, old string) string {
	t.Helper()
	ctx := context.Background()
	cs := make([]*redis.SentinelClient, len(addrs))
	for i, a := range addrs {
		cs[i] = redis.NewSentinelClient(&redis.Options{Addr: a})
		defer cs[i].Close()
	}
	for i := 0; ; i++ {
		votes := map[string]int{}
		for _, c := range cs {
			if hp, err := c.GetMasterAddrByName(ctx, "lianxin").Result(); err == nil && len(hp) == 2 {
				votes[net.JoinHostPort(hp[0], hp[1])]++
			}
		}
		for addr, n := range votes {
			if addr != old && n > len(addrs)/2 {
				return addr
			}
		}
		require.Less(t, i, 600, "no failover after a minute: %v", votes)
		time.Sleep(50 * time.Millisecond)
	}
}

func firstMailbox(t *testing.T) string {
	t.Helper()
	f, err := os.Open("../configs/mailboxes.csv")
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Greater(t, len(rows), 1)
	return rows[1][0]
}
