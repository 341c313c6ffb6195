package sip

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// TestPhoneAnswerRecordedAfterRedisStalls: the agent's phone answers while
// Redis takes no writes (CLIENT PAUSE, 7 s: the node's accept times out).
// The node records the answer once Redis takes writes again, and the caller
// talks to the agent (the agent's tone reaches the caller). Before, the
// node hung the phone up at the first failure ("the offer is gone") and the
// caller was offered again to a phone that had already answered.
func TestPhoneAnswerRecordedAfterRedisStalls(t *testing.T) {
	siptest.RequireTools(t, "baresip")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rs := queuetest.RedisServer(t)
	e := newEnvWith(t, rs, "node-a", nil, func(c *Config) { c.RingTimeout = 40 * time.Second })
	ph := siptest.Baresip(t, siptest.BaresipOptions{SIPAddr: e.s.Addr().String(), User: "1001", Password: "demo"})
	require.NoError(t, ph.WaitRegistered(ctx))
	eventually(t, 500, "the phone registered", func() bool {
		until, err := e.q.Phone(ctx, "1001")
		return err == nil && !until.IsZero()
	})
	e.seat("1001")

	call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: e.s.Addr().String(), Number: "12345",
		From: "13900139611"})
	require.NoError(t, err)
	ct := contactOf(t, e, "+8613900139611")
	_, err = ph.WaitEvent(ctx, "CALL_INCOMING", 0)
	require.NoError(t, err, "the agent's phone rings")

	require.NoError(t, rs.Client(t).Do(ctx, "CLIENT", "PAUSE", 7000, "WRITE").Err())
	require.NoError(t, ph.Answer(ctx))
	_, err = ph.WaitEvent(ctx, "CALL_ESTABLISHED", 0)
	require.NoError(t, err)

	heldBy(t, e, ct.TrackingNo, "1001")
	callerHears(ctx, t, call, siptest.AgentToneHz, "the caller talks to the agent")
	c, err := e.q.Contact(ctx, ct.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, queue.StateAssigned, c.State)
	require.Equal(t, 1, c.Offers, "offered once: the phone that answered keeps the call")
}
