package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/lianxin/lianxin/internal/loadsim"
	"golang.org/x/crypto/bcrypt"
)

// writeConfig writes a config with n load agents (password "load", hashed
// at bcrypt's lowest cost so that logging in a thousand desks is quick).
func writeConfig(dir string, n, waitReplicas int) (string, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte("load"), bcrypt.MinCost)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	loadHeader(&b, dir, "")
	if waitReplicas > 0 {
		fmt.Fprintf(&b, "redis:\n  wait_replicas: %d\n", waitReplicas)
	}
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
// load's start, not an attack, and every desk comes from 127.0.0.1 (over
// http.max_connections_per_source); one queue (so no menu, whose keys name
// others); the directory writeDirectory makes; sip settings, indented.
func loadHeader(b *bytes.Buffer, dir, sip string) {
	b.WriteString("auth:\n  login_hashes_per_second: 10000\n")
	b.WriteString("http:\n  max_connections_per_source: 4096\n")
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
	pct := loadsim.Percentiles(r.lat)
	fmt.Printf("queued %d contacts in %s: %.0f contacts/s\n", o.contacts, enqueued.Round(time.Millisecond),
		float64(o.contacts)/enqueued.Seconds())
	fmt.Printf("routed %d contacts to %d agents in %s: %.0f contacts/s\n", r.got, o.agents, routed.Round(time.Millisecond),
		float64(r.got)/routed.Seconds())
	for code, n := range r.errors {
		fmt.Printf("desk errors: %d × %s (e.g. %s)\n", n, code, r.example[code])
	}
	fmt.Printf("enqueue-to-offer on the websocket: p50 %s  p90 %s  p99 %s  max %s\n",
		pct(0.50).Round(10*time.Microsecond), pct(0.90).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond),
		pct(1).Round(10*time.Microsecond))
}

// nodeTicks is the nodes' total CPU time in clock ticks (1/100 s); a node
// whose /proc entry cannot be read counts 0.
func nodeTicks(pids []int) float64 {
	var sum float64
	for _, pid := range pids {
		t, _ := loadsim.CPUTicks(pid)
		sum += t
	}
	return sum
}

// selfCPU is this process's own user+system CPU time in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// profileSeconds is how long to profile: the time the contacts take to
// queue at -rate (at least 5 s; 20 s without a rate).
func profileSeconds(o options) int {
	if o.rate <= 0 {
		return 20
	}
	return max(5, int(float64(o.contacts)/o.rate))
}
