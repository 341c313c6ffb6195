package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/internal/leakcheck"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/bcrypt"
)

func TestMain(m *testing.M) {
	// go-redis logs pool dial failures through a global logger; the tests
	// that stop Redis on purpose would fill the output with them.
	redis.SetLogger(redisLog{zap.NewNop().Sugar()})
	leakcheck.Main(m)
}

// aloneEnv names the test a child process runs; see inOwnProcess.
const aloneEnv = "LIANXIN_TEST_ALONE"

// inOwnProcess runs the calling test in a process of its own, this test
// binary started again with only that test, and reports whether the caller
// is that child and should go on. A test that measures the whole process
// (its heap) uses it: the parent runs in parallel with the other tests, the
// child alone, and what it measures is its own.
func inOwnProcess(t *testing.T) bool {
	t.Helper()
	if os.Getenv(aloneEnv) == t.Name() {
		return true
	}
	t.Parallel()
	args := []string{"-test.run=^" + t.Name() + "$", "-test.count=1", "-test.v"}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+time.Until(d).String())
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), aloneEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	// Prefixed, so that go test does not read the child's results as ours.
	t.Logf("the test in a process of its own:\n│ %s", strings.ReplaceAll(strings.TrimRight(string(out), "\n"), "\n", "\n│ "))
	require.NoError(t, err, "the test in a process of its own failed")
	return false
}

// testNode is one gateway running in this process on a real TCP port.
type testNode struct {
	base string
	// metrics is the base URL of the node's metrics listener; smtp the
	// host:port of its SMTP listener.
	metrics string
	smtp    string
	cancel  context.CancelFunc
	done    chan error
	n       *node
}

// startNode runs a gateway on redisURL with config changes mod.
func startNode(t *testing.T, redisURL, id string, mod ...func(*configs.Config)) *testNode {
	t.Helper()
	env := map[string]string{"LIANXIN_REDIS_URL": redisURL, "LIANXIN_NODE_ID": id, "LIANXIN_HTTP_ADDR": "127.0.0.1:0",
		"LIANXIN_SMTP_ADDR": "127.0.0.1:0", "LIANXIN_SIP_ADDR": "127.0.0.1:0"}
	cfg, err := configs.Load("", func(k string) string { return env[k] })
	require.NoError(t, err)
	cfg.Blobs.Dir = t.TempDir()
	cfg.HTTP.DrainTimeout = 5 * time.Second
	for i := range cfg.Agents {
		if isDemoHash(cfg.Agents[i].PasswordHash) {
			cfg.Agents[i].PasswordHash = cheapDemoHash()
		}
	}
	for _, m := range mod {
		m(cfg)
	}
	dir, err := configs.LoadDirectory(cfg)
	require.NoError(t, err)
	opt, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	n, err := newNode(cfg, dir, rdb, zaptest.NewLogger(t).Named(id))
	require.NoError(t, err)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := n.limit(raw, cfg.HTTP)
	require.NoError(t, n.voice.Listen())
	require.NoError(t, n.mail.Listen())
	n.metricsLn, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNode{base: "http://" + ln.Addr().String(), metrics: "http://" + n.metricsLn.Addr().String(),
		smtp:   n.mail.Addr().String(),
		cancel: cancel, done: make(chan error, 1), n: n}
	go func() { tn.done <- n.run(ctx, ln, cfg.HTTP.DrainTimeout) }()
	t.Cleanup(tn.stop)
	return tn
}

// cheapDemoHash is a bcrypt hash of "demo" at bcrypt's least cost. The
// embedded demo agents' hashes cost 10: about a second a login under the race
// detector, and the tests log in a hundred times. A login still checks a
// real bcrypt hash.
var cheapDemoHash = sync.OnceValue(func() string {
	h, err := bcrypt.GenerateFromPassword([]byte("demo"), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
})

func (n *testNode) stop() {
	if n.cancel != nil {
		n.cancel()
		<-n.done
		n.cancel = nil
	}
}

// mailboxFor returns the id of the first mailbox in configs/mailboxes.csv
// whose queue is queueName.
func mailboxFor(t *testing.T, queueName string) string {
	t.Helper()
	f, err := os.Open("../../configs/mailboxes.csv")
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"id", "name", "owner", "level", "district", "queue", "email"}, rows[0])
	for _, r := range rows[1:] {
		if r[5] == queueName {
			return r[0]
		}
	}
	t.Fatalf("no mailbox for queue %s", queueName)
	return ""
}

type response struct {
	Status int
	Header http.Header
	Body   map[string]any
}

func do(t *testing.T, method, url, contentType string, body []byte, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := response{Status: resp.StatusCode, Header: resp.Header}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &r.Body), "body is not JSON: %s", raw)
	}
	return r
}

func postJSON(t *testing.T, url string, v any, header ...string) response {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return do(t, http.MethodPost, url, "application/json", b, header...)
}

// letter posts a JSON letter, with header's name/value pairs, and returns
// its tracking number.
func letter(t *testing.T, base, mailbox, subject string, header ...string) string {
	t.Helper()
	r := postJSON(t, base+"/channels/mailbox/"+mailbox+"/letters", map[string]string{
		"name": "王建国", "phone": "138 0013 8000", "subject": subject, "text": "小区门口路灯坏了一个月，晚上很黑，请尽快修理。"},
		header...)
	require.Equal(t, http.StatusAccepted, r.Status, "%v", r.Body)
	tn, _ := r.Body["tracking_no"].(string)
	require.NotEmpty(t, tn)
	return tn
}

// desk logs an agent in on base and connects its desk, waiting for hello.
func desk(t *testing.T, base, agent string) *desktest.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := desktest.Login(ctx, base, agent, "demo")
	require.NoError(t, err)
	return dialDesk(t, base, tok)
}

func dialDesk(t *testing.T, base, tok string) *desktest.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := desktest.Dial(ctx, base, tok)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	_, err = c.Next(ctx, "hello")
	require.NoError(t, err)
	return c
}

// next waits (bounded, generously: these machines are small) for a message.
func next(t *testing.T, c *desktest.Client, types ...string) desktest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := c.Next(ctx, types...)
	require.NoError(t, err, "waiting for %v", types)
	return m
}

// send sends a message and waits for its ack (or fails on an error).
func send(t *testing.T, c *desktest.Client, typ string, fields map[string]any) {
	t.Helper()
	ref, err := c.Send(typ, fields)
	require.NoError(t, err)
	for {
		m := next(t, c, "ack", "error")
		if m.Ref != ref {
			continue
		}
		require.Equal(t, "ack", m.Type, "%s: %s %s", typ, m.Code, m.Message)
		return
	}
}

func loginToken(t *testing.T, base, agent string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := desktest.Login(ctx, base, agent, "demo")
	require.NoError(t, err)
	return tok
}

// waitState reads state messages until the agent is in state want.
func waitState(t *testing.T, c *desktest.Client, want string) {
	t.Helper()
	for {
		if m := next(t, c, "state"); m.State == want {
			return
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
