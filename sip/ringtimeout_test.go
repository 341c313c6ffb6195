package sip

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/stretchr/testify/require"
)

// TestBrowserRingTimeout: with sip.ring_timeout_browser set, a call ringing
// an agent's browser phone has its offer's deadline moved to that (1.5 s
// here, against a ring_timeout of 5 minutes): the offer expires unanswered,
// the browser stops ringing, and the call goes back to its place — long
// before ring_timeout. A SIP phone's offer keeps ring_timeout.
func TestBrowserRingTimeout(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.WebRTC.Loopback = true
		c.RingTimeout = 5 * time.Minute
		c.RingTimeoutBrowser = 1500 * time.Millisecond
	})
	_, notes := openBrowser(t, e, "1001")
	sess := e.seat("1001")
	c := dial(t, e, "12345", "13800138000", media.PCMU)
	ring := notes.call(t, "ringing")
	rdb := e.redis.Client(t)
	ctx := context.Background()
	deadlines := func(tn string) (offered, deadline int64) {
		v, err := rdb.HMGet(ctx, "{lianxin}:c:"+tn, "offered", "deadline").Result()
		require.NoError(t, err)
		offered, _ = strconv.ParseInt(v[0].(string), 10, 64)
		deadline, _ = strconv.ParseInt(v[1].(string), 10, 64)
		return
	}
	eventually(t, 500, "the offer's deadline is the browser's", func() bool {
		o, d := deadlines(ring.Contact)
		return d-o == 1500
	})
	notes.call(t, "ended")
	eventually(t, 1500, "the offer expired, the call back in the queue", func() bool {
		ct, err := e.q.Contact(ctx, ring.Contact)
		return err == nil && (ct.State == queue.StateWaiting || ct.Offers >= 2)
	})
	require.Zero(t, c.byes.Load(), "the caller is still there")

	// A SIP phone keeps ring_timeout.
	e.s.ClosePhone("1001")
	require.NoError(t, e.q.Logout(ctx, "1001", sess.ID))
	newPhone(t, e, "1002", time.Hour)
	e.seat("1002")
	eventually(t, 1500, "the call rings 1002's SIP phone", func() bool {
		ct, err := e.q.Contact(ctx, ring.Contact)
		return err == nil && ct.State == queue.StateOffered && ct.Agent == "1002"
	})
	o, d := deadlines(ring.Contact)
	require.Equal(t, int64(5*time.Minute/time.Millisecond), d-o, "the SIP phone rings ring_timeout")
}
