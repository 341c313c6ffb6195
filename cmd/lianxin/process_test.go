package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/internal/loadsim"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds lianxin once for the tests that run it as a process.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lianxin-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "lianxin")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// proc is the gateway running as a process of its own.
type proc struct {
	cmd  *exec.Cmd
	base string
	sip  string // its SIP address (UDP and TCP)
	out  *lockedBuffer
	done chan struct{}
}

// lockedBuffer is the process's output, read while it is written.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProc runs a gateway process whose listeners take ports the kernel
// chooses (":0"), read from its serving line: no port is picked by closing a
// listener that another test could take in the meantime.
func startProc(t *testing.T, redisURL, id, config string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t))
	cmd.Env = append(os.Environ(), "LIANXIN_REDIS_URL="+redisURL, "LIANXIN_NODE_ID="+id, "LIANXIN_HTTP_ADDR=127.0.0.1:0",
		"LIANXIN_CONFIG="+config, "LIANXIN_SMTP_ADDR=127.0.0.1:0", "LIANXIN_SIP_ADDR=127.0.0.1:0",
		"LIANXIN_METRICS_ADDR=127.0.0.1:0")
	cmd.Dir = t.TempDir()
	p := &proc{cmd: cmd, out: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	require.NoError(t, cmd.Start())
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s", id, p.out.String())
		}
	})
	for i := 0; ; i++ {
		if p.base == "" {
			if l, ok := loadsim.ServingLine(p.out.String()); ok {
				p.base, p.sip = "http://"+l.HTTP, l.SIP
			}
		}
		if p.base != "" {
			resp, err := http.Get(p.base + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return p
				}
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited: %s", id, p.out.String())
		case <-time.After(100 * time.Millisecond):
		}
		require.Less(t, i, 600, "%s did not come up", id)
	}
}

// testConfig writes a config file for processes: short node TTL so a dead
// node is noticed quickly.
func testConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lianxin.yaml")
	require.NoError(t, os.WriteFile(path, []byte("queue:\n  node_ttl: 2s\n  heartbeat: 500ms\n  offer_timeout: 60s\n"), 0o600))
	return path
}

// twoProcsOneDesk runs two gateway processes on one real redis-server
// and seats agent 1001's desk, ready, on the first.
func twoProcsOneDesk(t *testing.T) (*queuetest.Server, *proc, *proc, string, *desktest.Client) {
	t.Helper()
	s := queuetest.RedisServer(t)
	cfg := testConfig(t)
	a := startProc(t, s.URL, "node-a", cfg)
	b := startProc(t, s.URL, "node-b", cfg)
	tok := loginToken(t, a.base, "1001")
	d := dialDesk(t, a.base, tok)
	send(t, d, "ready", nil)
	return s, a, b, tok, d
}

// Kill -9 the node holding an agent's desk while the agent has an open
// offer: the desk reconnects to the other node and is offered the same
// contact again; nothing is lost or duplicated.
func TestKillNodeHoldingDesk(t *testing.T) {
	t.Parallel()
	for _, wait := range []bool{false, true} {
		name := "reconnect-at-once"
		if wait {
			name = "reconnect-after-node-ttl"
		}
		t.Run(name, func(t *testing.T) {
			s, a, b, tok, d := twoProcsOneDesk(t)
			tn := letter(t, b.base, mailboxFor(t, "general"), "节点崩溃测试")
			require.Equal(t, tn, next(t, d, "offer").Object().TrackingNo)

			require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL))
			<-a.done
			if wait {
				// Node B notices A is gone and puts the contact back in the queue.
				for {
					r := do(t, http.MethodGet, b.base+"/api/contacts/"+tn+"?phone_last4=8000", "", nil)
					if r.Body["state"] == "waiting" {
						break
					}
					time.Sleep(250 * time.Millisecond) // the public lookup allows 30 a minute
				}
			}
			d2 := dialDesk(t, b.base, tok) // the token works on every node
			m := next(t, d2, "offer")
			require.Equal(t, tn, m.Object().TrackingNo)
			send(t, d2, "accept", map[string]any{"contact": tn})
			send(t, d2, "wrapup", map[string]any{"contact": tn, "request_type": "consultation", "outcome": "resolved"})

			r := do(t, http.MethodGet, b.base+"/api/contacts/"+tn+"?phone_last4=8000", "", nil)
			require.Equal(t, "closed", r.Body["state"])
			// The token is known on node B too: 1001 is authenticated, and
			// refused only because the queue picture is for supervisors.
			r = do(t, http.MethodGet, b.base+"/api/queues", "", nil, "Authorization", "Bearer "+tok)
			require.Equal(t, http.StatusForbidden, r.Status)
			r = do(t, http.MethodGet, b.base+"/api/queues", "", nil, "Authorization", "Bearer "+loginToken(t, b.base, "1005"))
			require.Equal(t, http.StatusOK, r.Status)
			for _, q := range r.Body["queues"].([]any) {
				require.EqualValues(t, 0, q.(map[string]any)["waiting"], "nothing left waiting: %v", q)
			}
			// One letter, one contact: the sequence issued exactly one number.
			rdb := s.Client(t)
			keys, err := rdb.Keys(t.Context(), "{lianxin}:c:*").Result()
			require.NoError(t, err)
			require.Equal(t, []string{"{lianxin}:c:" + tn}, keys)
		})
	}
}

// The first SIGTERM drains: the node stops being ready, desks are told to
// reconnect elsewhere (1001) and their offers go back; the process exits 0.
func TestSigtermDrains(t *testing.T) {
	t.Parallel()
	_, a, b, tok, d := twoProcsOneDesk(t)
	tn := letter(t, a.base, mailboxFor(t, "general"), "排空测试")
	require.Equal(t, tn, next(t, d, "offer").Object().TrackingNo)

	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	_, err := d.Next(t.Context(), "never")
	require.Error(t, err)
	require.Equal(t, 1001, d.CloseCode())
	<-a.done
	require.Equal(t, 0, a.cmd.ProcessState.ExitCode(), a.out.String())
	require.Contains(t, a.out.String(), "draining")
	require.Contains(t, a.out.String(), `"desk":"`+a.base+`/desk/"`, "the serving line says where the desk is")

	r := do(t, http.MethodGet, b.base+"/api/contacts/"+tn+"?phone_last4=8000", "", nil)
	require.Equal(t, "waiting", r.Body["state"], "the drained node's offer went back to the queue")
	d2 := dialDesk(t, b.base, tok)
	require.Equal(t, tn, next(t, d2, "offer").Object().TrackingNo)
}
