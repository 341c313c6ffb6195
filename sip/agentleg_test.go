package sip

import (
	"context"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// TestRingingCutShortIsNoMiss: a ringing cut short before the agent's
// phone was rung — the call ended, or its offer was rescinded, while the
// node looked the phone up (its context canceled) — counts no miss against
// the agent: the call's end or the rescind settles the offer. Before, the
// ringing rejected the offer as "no phone", a miss; a slow node whose
// callers hung up while it looked phones up set agents not ready
// (missed_offers) whose phones had answered every call they were rung for
// (the surge replay at 1/100 with media on this 2-core machine).
func TestRingingCutShortIsNoMiss(t *testing.T) {
	e := newEnv(t)
	newPhone(t, e, "1001", time.Hour)
	e.seat("1001")
	ctx := context.Background()
	// A call of another node's: this node's server does not ring it itself.
	r, err := e.q.EnqueueCall(ctx, queue.Intake{Line: "12345", Queue: "general",
		Citizen: queue.Citizen{Address: "13800138000", Phone: "13800138000"}},
		queue.Call{ID: "cut-short", Node: "elsewhere"})
	require.NoError(t, err)
	eventually(t, 500, "the call offered to 1001", func() bool {
		ct, err := e.q.Contact(ctx, r.TrackingNo)
		return err == nil && ct.State == queue.StateOffered && ct.Agent == "1001"
	})

	c := &call{s: e.s, log: zap.NewNop(), tn: r.TrackingNo, ctx: ctx}
	a := &agentLeg{c: c, agent: "1001", id: "cut-short-leg"}
	cut, cancel := context.WithCancel(ctx)
	cancel()
	a.ringing(cut, time.Now().Add(time.Minute))

	st, err := e.q.Status(ctx, "1001")
	require.NoError(t, err)
	require.Zero(t, st.Misses, "no miss counted")
	ct, err := e.q.Contact(ctx, r.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, queue.StateOffered, ct.State, "the offer left to whoever cut the ringing short")
	require.Equal(t, 1, ct.Offers)
}

// TestStoppingWhileACancelIsUnanswered: the node stops while the CANCEL of
// a phone it gave up ringing is still unanswered (the phone rang, then went
// silent). sipgo's CANCEL panics on a nil response when the SIP stack
// closes under it (its transaction ends without an error): the node
// crashed on its way down (CI, sip package). The node now waits a little
// for such CANCELs and takes the library's panic back as an error: it
// stops cleanly, and the caller's contact ended as the caller left.
func TestStoppingWhileACancelIsUnanswered(t *testing.T) {
	e := newEnv(t)
	p := newPhone(t, e, "1001", time.Hour)
	e.seat("1001")
	c := dial(t, e, "12345", "13800138000", media.PCMU)
	eventually(t, 1000, "the agent's phone rings", func() bool { return p.contact.Load() != nil })
	tn := p.contact.Load().(string)
	// The phone goes silent: the CANCEL that follows gets no answer (sipgo
	// would retransmit it for 32 s).
	_ = p.srv.Close()
	_ = p.conn.Close()
	c.hangup(t)
	eventually(t, 1000, "the caller's contact ended", func() bool {
		ct, err := e.q.Contact(context.Background(), tn)
		return err == nil && ct.State == queue.StateClosed
	})
	e.stop() // crashed the test binary before
	require.Zero(t, e.s.Calls())
}

// TestWaitAnswerTakesALibraryPanicBack: a panic inside sipgo's WaitAnswer
// (its CANCEL reads a nil response when the transaction ends without an
// error, a race TestStoppingWhileACancelIsUnanswered runs into only now and
// then) comes back as an error naming it. A session without a transaction
// panics the same way, every time.
func TestWaitAnswerTakesALibraryPanicBack(t *testing.T) {
	err := waitAnswer(context.Background(), &sipgo.DialogClientSession{}, nil)
	require.ErrorContains(t, err, "sipgo panicked")
}
