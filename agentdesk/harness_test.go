package agentdesk

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/bcrypt"
)

// deskEnv is one desk server on a real listener, over a real redis-server.
type deskEnv struct {
	base string
	s    *Server
	q    *queue.Queue
	rdb  *redis.Client
}

var (
	demoHashOnce sync.Once
	demoHash     string
)

// testAgents: 1001 an agent, 1005 a supervisor, both with password "demo"
// (hashed at bcrypt's default cost, as in production).
func testAgents(t *testing.T) []Agent {
	demoHashOnce.Do(func() {
		h, err := bcrypt.GenerateFromPassword([]byte("demo"), bcrypt.DefaultCost)
		require.NoError(t, err)
		demoHash = string(h)
	})
	prof := func(id string) queue.Profile {
		return queue.Profile{ID: id, Name: "agent " + id, Skills: map[string]int{"general": 3},
			Capacity: map[queue.Channel]int{queue.ChannelWeb: 3, queue.ChannelMailbox: 3}}
	}
	return []Agent{{Profile: prof("1001"), PasswordHash: demoHash}, {Profile: prof("1002"), PasswordHash: demoHash},
		{Profile: prof("1005"), PasswordHash: demoHash, Supervisor: true}}
}

func startDesk(t *testing.T, mod ...func(*Params)) *deskEnv { return startDeskHooked(t, nil, mod...) }

// startDeskHooked is startDesk with hook run on the Server before it starts
// (to set its test hooks without racing its goroutines).
func startDeskHooked(t *testing.T, hook func(*Server), mod ...func(*Params)) *deskEnv {
	t.Helper()
	rs := queuetest.RedisServer(t)
	rdb := rs.Client(t)
	log := zaptest.NewLogger(t)
	q, err := queue.New(rdb, queue.Options{NodeID: "node-a", Queues: []queue.Def{{Name: "general", Title: "综合受理"}},
		Logger: log})
	require.NoError(t, err)
	p := Params{Queue: q, Redis: rdb, Prefix: "{lianxin}:", Agents: testAgents(t), Logger: log, Blobs: memBlobs{}}
	for _, m := range mod {
		m(&p)
	}
	s := New(p)
	if hook != nil {
		hook(s)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	hs := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = q.Run(ctx) }()
	go func() { defer wg.Done(); _ = s.Run(ctx) }()
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.Drain(dctx)
		dcancel()
		hs.Close()
		cancel()
		wg.Wait()
	})
	return &deskEnv{base: hs.URL, s: s, q: q, rdb: rdb}
}

func (e *deskEnv) login(t *testing.T, agent string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := desktest.Login(ctx, e.base, agent, "demo")
	require.NoError(t, err)
	return tok
}

// seat logs agent in, connects its desk and makes it ready; it returns once
// the ready state came back through the event stream.
func (e *deskEnv) seat(t *testing.T, agent string) *desktest.Client {
	t.Helper()
	c := e.dial(t, e.login(t, agent))
	_, err := c.Send("ready", nil)
	require.NoError(t, err)
	for m := next(t, c, "state"); m.State != "ready"; m = next(t, c, "state") {
	}
	return c
}

func (e *deskEnv) dial(t *testing.T, tok string) *desktest.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := desktest.Dial(ctx, e.base, tok)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	next(t, c, "hello")
	return c
}

// letter puts a web letter in the general queue and returns its number.
func (e *deskEnv) letter(t *testing.T, line, lineName string, atts ...queue.Attachment) string {
	t.Helper()
	r, err := e.q.Enqueue(context.Background(), queue.Intake{Channel: queue.ChannelWeb, Line: line, LineName: lineName,
		Citizen: queue.Citizen{Address: "+8613800138000", Phone: "+8613800138000"}, Text: "路灯坏了",
		RequestType: queue.RequestReport, Queue: "general", Attachments: atts}, "")
	require.NoError(t, err)
	return r.TrackingNo
}

func next(t *testing.T, c *desktest.Client, types ...string) desktest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := c.Next(ctx, types...)
	require.NoError(t, err, "waiting for %v", types)
	return m
}

// until reads messages up to the pong of a ping sent now, so a test knows
// what the desk had been sent before it, without waiting on a clock.
func until(t *testing.T, c *desktest.Client) []desktest.Message {
	t.Helper()
	ref, err := c.Send("ping", nil)
	require.NoError(t, err)
	var seen []desktest.Message
	for {
		m := next(t, c)
		if m.Type == "pong" && m.Ref == ref {
			return seen
		}
		seen = append(seen, m)
	}
}

// clientFrom is an HTTP client whose connections come from the loopback
// address ip (127.0.0.1, 127.0.0.2, …), to play several source addresses.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64}}
}

// memBlobs serves every hash with its own bytes.
type memBlobs struct{}

func (memBlobs) Open(_ context.Context, sha string) (io.ReadCloser, int64, error) {
	return io.NopCloser(strings.NewReader(sha)), int64(len(sha)), nil
}
