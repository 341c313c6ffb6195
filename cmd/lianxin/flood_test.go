package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestSlowFloodKeepsNodeAnswering: 300 slow connections (a request line
// and half a header, then nothing; reopened as soon as the node closes
// them, as an attacker would) against a node holding at most 64: the node
// never holds more than 64, and /healthz, /readyz, a desk login, a desk's
// websocket and a letter all still get their answers (issue 7 #6: 19,980
// slow connections exhausted the open files and took /readyz and letters
// down).
func TestSlowFloodKeepsNodeAnswering(t *testing.T) {
	s := queuetest.RedisServer(t)
	const maxConns, flood = 64, 300
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) {
		c.HTTP.MaxConnections = maxConns
		c.HTTP.MaxConnectionsPerSource = 1000 // the flood and the checks all come from 127.0.0.1
	})
	addr := strings.TrimPrefix(n.base, "http://")
	// The desk's websocket is open before the flood, as on a shift.
	d := desk(t, n.base, "1001")

	ctx, stopFlood := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var opened atomic.Int64
	for range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				opened.Add(1)
				_, _ = io.WriteString(c, "POST /channels/mailbox/x/letters HTTP/1.1\r\nHost: x\r\nContent-")
				go func() { <-ctx.Done(); _ = c.Close() }()
				_, _ = io.Copy(io.Discard, c) // until the node closes it
				_ = c.Close()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	defer func() { stopFlood(); wg.Wait() }()
	require.Eventually(t, func() bool { return opened.Load() >= flood }, time.Minute, 10*time.Millisecond)

	// Each check retries a connection the node closed under it (a
	// keep-alive one between requests may be closed for a newer one): a
	// client's ordinary retry. The answers are what is checked. A new
	// connection is not closed before the node has read its request
	// (connlimit), so a retry only ever follows a reused one.
	retried := func(what string, f func() error) {
		for try := 0; ; try++ {
			err := f()
			if err == nil {
				return
			}
			require.Less(t, try, 20, "%s: %v", what, err)
		}
	}
	get := func(path string) (status int) {
		retried(path, func() error {
			resp, err := http.Get(n.base + path)
			if err == nil {
				resp.Body.Close()
				status = resp.StatusCode
			}
			return err
		})
		return status
	}
	require.Equal(t, http.StatusOK, get("/healthz"))
	require.Equal(t, http.StatusOK, get("/readyz"))
	lctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var tok string
	retried("a desk logs in under the flood", func() (err error) {
		tok, err = desktest.Login(lctx, n.base, "1002", "demo")
		return err
	})
	require.NotEmpty(t, tok)
	send(t, d, "ready", nil) // the open desk still works
	// With an Idempotency-Key the client may send the letter again on a
	// reused connection closed under it, and a second copy is the first.
	tn := letter(t, n.base, mailboxFor(t, "general"), "洪水中的来信", "Idempotency-Key", "flood-letter-1")
	offer := next(t, d, "offer").Object()
	require.Equal(t, tn, offer.TrackingNo)

	st := n.n.httpLn.Stats()
	t.Logf("%d slow connections opened by the flood; the node holds %d (at most %d), closed %d idle ones for newer, refused %d",
		opened.Load(), st.Open, maxConns, st.Evicted, st.Refused)
	require.LessOrEqual(t, st.Open, maxConns)
	require.Positive(t, st.Evicted, "the flood's connections were closed to make room")
}
