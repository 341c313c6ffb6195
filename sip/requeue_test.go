package sip

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// eventTimes records when each event type about tn first shows in the stream.
type eventTimes struct {
	mu   sync.Mutex
	seen map[queue.EventType]time.Time
}

func watchEvents(t *testing.T, e *env) *eventTimes {
	t.Helper()
	w := &eventTimes{seen: map[queue.EventType]time.Time{}}
	ctx, cancel := context.WithCancel(context.Background())
	pos, err := e.q.EventsPosition(ctx)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.q.SubscribeFrom(ctx, pos, func(ev queue.Event) {
			w.mu.Lock()
			if _, ok := w.seen[ev.Type]; !ok {
				w.seen[ev.Type] = time.Now()
			}
			w.mu.Unlock()
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func (w *eventTimes) at(typ queue.EventType) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen[typ]
}

// talkOnBrowser: agent 1001 on a browser phone of e answers a call from the caller (the call on node a).
func talkOnBrowser(t *testing.T, a, e *env) (*caller, string, deskNotes, func() error) {
	t.Helper()
	b, notes := openBrowser(t, e, "1001")
	b.Say(siptest.SineWave(toneAgent, 8000, 8000))
	e.seat("1001")
	c := dial(t, a, "12345", "13800138000", media.PCMU)
	ring := notes.call(t, "ringing")
	require.NoError(t, e.s.PhoneAnswer(context.Background(), "1001"))
	notes.call(t, "talking")
	eventually(t, 500, "the caller hears the agent", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneAgent) })
	return c, ring.Contact, notes, b.Close
}

// The browser's media session drops mid-call and the desk does not restore it within sip.browser_media_grace: the
// call goes back to its queue at its old place, the caller (never hung up) hears hold audio, agent 1001 is not
// ready with reason media_lost and no miss, and agent 1002's browser rings at once; 1002 answers and the caller
// hears them.
func TestBrowserPhoneMediaLostRequeues(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.WebRTC.Loopback = true; c.BrowserMediaGrace = 300 * time.Millisecond })
	c, tn, notes, closeBrowser := talkOnBrowser(t, e, e)
	b2, notes2 := openBrowser(t, e, "1002")
	b2.Say(siptest.SineWave(toneAnswer, 8000, 8000))
	e.seat("1002")
	ctx := context.Background()
	ct, err := e.q.Contact(ctx, tn)
	require.NoError(t, err)
	queuedAt := ct.QueuedAt

	w := watchEvents(t, e)
	lost := time.Now()
	require.NoError(t, closeBrowser()) // the media session is gone, and no ICE restart comes
	ring := notes2.call(t, "ringing")
	rang := time.Now()
	require.Equal(t, tn, ring.Contact, "the next agent is offered the same call")
	// The watcher is a reader of its own beside the node's feed, which rang
	// the second agent: it may see the requeued event a moment later.
	eventually(t, 500, "a requeued event", func() bool { return !w.at(queue.EventRequeued).IsZero() })
	requeued := w.at(queue.EventRequeued)
	t.Logf("media loss to requeue: %v (grace %v); to the second agent's ringing: %v",
		requeued.Sub(lost), e.cfg.BrowserMediaGrace, rang.Sub(lost))
	require.Equal(t, queue.RequeueMediaLost, notes.call(t, "ended").Reason, "the first desk is told why")
	st, err := e.q.Status(ctx, "1001")
	require.NoError(t, err)
	require.Equal(t, queue.PresenceNotReady, st.Presence)
	require.Equal(t, queue.RequeueMediaLost, st.Reason)
	require.Zero(t, st.Misses)
	eventually(t, 500, "the caller hears hold audio", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneHold) })
	require.Zero(t, c.byes.Load(), "the caller is still on the line")

	require.NoError(t, e.s.PhoneAnswer(ctx, "1002"))
	notes2.call(t, "talking")
	eventually(t, 500, "the caller hears the second agent", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneAnswer) })
	ct, err = e.q.Contact(ctx, tn)
	require.NoError(t, err)
	require.Equal(t, queue.StateAssigned, ct.State)
	require.Equal(t, "1002", ct.Agent)
	require.Equal(t, queuedAt, ct.QueuedAt, "its place kept")
	stats, err := e.q.CallStats(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), stats["general"].Requeues)
	require.Equal(t, int64(1), stats["general"].Answered, "answered once")
}

// The agent's desk (and browser phone) was on node B, the caller on node A; the desk comes back on node C: C asks A
// to bring the call over, A calls C's phone (X-Lianxin-Resume: 1), which answers at once with no ringing, and the
// caller hears the agent through C; B's old leg is hung up, and B's phone closing later changes nothing.
func TestBrowserPhoneDeskMovesToAnotherNode(t *testing.T) {
	cfg := func(c *Config) { c.WebRTC.Loopback = true; c.BrowserReconnect = 5 * time.Second }
	a := newEnv(t, cfg)
	b := newEnvOn(t, a.redis, "node-b", cfg)
	cn := newEnvOn(t, a.redis, "node-c", cfg)
	c, tn, _, closeOld := talkOnBrowser(t, a, b)

	b.s.LeavePhone("1001") // the desk went from B
	require.NoError(t, closeOld())
	moved := time.Now()
	br, notes := openBrowser(t, cn, "1001")
	br.Say(siptest.SineWave(toneAnswer, 8000, 8000))
	talking := notes.call(t, "talking")
	require.Equal(t, tn, talking.Contact, "the new desk is told the call is up, with no ringing")
	eventually(t, 500, "the caller on A hears the agent on C", func() bool {
		return mostly(lastTone(c.rtp.packets(), 10), toneAnswer)
	})
	t.Logf("reattach (the desk's phone open on C to the caller hearing C): %v", time.Since(moved))
	eventually(t, 500, "C hears the caller", func() bool { return siptest.HasTone(br.Heard(1600, false), toneCaller) })
	eventually(t, 500, "B's old call is hung up", func() bool { return b.s.browserCallCount() == 0 })
	require.Zero(t, c.byes.Load(), "the call went on")
	ct, err := a.q.Contact(context.Background(), tn)
	require.NoError(t, err)
	require.Equal(t, queue.StateAssigned, ct.State)
	require.Equal(t, "1001", ct.Agent)

	// B's phone closes when its wait is over: nothing happens to the call, and C keeps the binding.
	time.Sleep(b.cfg.BrowserReconnect + 500*time.Millisecond)
	require.Nil(t, b.s.browserPhone("1001"))
	uri, err := a.s.reg.lookup(context.Background(), "1001")
	require.NoError(t, err)
	require.Equal(t, int(cn.s.Addr().Port()), uri.Port)
	require.NoError(t, cn.s.PhoneHangup(context.Background(), "1001"))
	eventually(t, 500, "the caller gets BYE", func() bool { return c.byes.Load() > 0 })
}

// The node holding the agent's browser phone shuts down mid-call (the caller on another node): the call goes back to
// its queue at its old place with reason shutdown; the caller hears hold audio.
func TestBrowserPhoneNodeShutdownRequeues(t *testing.T) {
	cfg := func(c *Config) { c.WebRTC.Loopback = true }
	a := newEnv(t, cfg)
	b := newEnvOn(t, a.redis, "node-b", cfg)
	c, tn, _, _ := talkOnBrowser(t, a, b)
	b.stop()
	ctx := context.Background()
	eventually(t, 500, "the call waits again", func() bool {
		ct, err := a.q.Contact(ctx, tn)
		return err == nil && ct.State == queue.StateWaiting
	})
	st, err := a.q.Status(ctx, "1001")
	require.NoError(t, err)
	require.Equal(t, queue.RequeueShutdown, st.Reason)
	eventually(t, 500, "the caller hears hold audio", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneHold) })
	require.Zero(t, c.byes.Load(), "the caller is still on the line")
}
