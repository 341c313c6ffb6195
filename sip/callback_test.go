package sip

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// TestCallbackKeepsPlaceAndCallsBack: a sipp caller waiting in the queue
// hears the callback offer, presses 1 and hangs up: the contact becomes a
// callback on the caller's number and keeps its place ahead of a caller who
// came later. An agent takes it; on accept the gateway rings the agent's
// baresip phone first, then calls the citizen (a sipp UAS playing a 1700 Hz
// tone) through the outbound trunk and bridges them: the agent hears the
// citizen. The agent hangs up; the citizen's leg is hung up and the
// contact waits for wrap-up.
func TestCallbackKeepsPlaceAndCallsBack(t *testing.T) {
	siptest.RequireTools(t, "sipp", "baresip")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	citizen := siptest.Sipp(t, siptest.SippOptions{Scenario: "agent-phone.xml", AutoAnswer: true, Calls: 1, Trace: true})
	e := newEnv(t, func(c *Config) {
		c.Callback.After = 300 * time.Millisecond
		c.Trunk.Proxy = citizen.Addr()
	})
	first := siptest.Sipp(t, siptest.SippOptions{Scenario: "caller-dtmf.xml", Target: e.s.Addr().String(), Service: "12345",
		Vars: map[string]string{"digit": "1", "before_ms": "1500", "hold_ms": "1000", "caller": "13800138701"}})
	ct := contactOf(t, e, "+8613800138701")
	res, err := first.Wait()
	require.NoError(t, err)
	require.Equal(t, 1, res.Successful, "sipp: %s", res.Errors)
	eventually(t, 500, "a callback", func() bool {
		c, err := e.q.Contact(ctx, ct.TrackingNo)
		return err == nil && c.Callback
	})
	later := siptest.Sipp(t, siptest.SippOptions{Scenario: "caller.xml", Target: e.s.Addr().String(), Service: "12345",
		Vars: map[string]string{"hold_ms": "30000", "caller": "13800138702"}})
	defer func() { _, _ = later.Stop(time.Second) }()
	ct2 := contactOf(t, e, "+8613800138702")
	c, err := e.q.Contact(ctx, ct.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, queue.StateWaiting, c.State)
	require.Equal(t, "+8613800138701", c.CallbackPhone)
	require.Empty(t, c.Node)
	pos, err := e.q.Position(ctx, ct.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, 1, pos, "the callback keeps its place ahead of the later caller")

	agent := siptest.Baresip(t, siptest.BaresipOptions{SIPAddr: e.s.Addr().String(), User: "1001", Password: "demo",
		AutoAnswer: true, ToneHz: 1300})
	require.NoError(t, agent.WaitRegistered(ctx))
	eventually(t, 500, "the phone registered", func() bool {
		until, err := e.q.Phone(ctx, "1001")
		return err == nil && !until.IsZero()
	})
	// The later caller hears the welcome first (state ivr); the callback's
	// place is tested against it once it waits in the queue too.
	eventually(t, 1500, "the later caller waits in the queue", func() bool {
		c, err := e.q.Contact(ctx, ct2.TrackingNo)
		return err == nil && c.State == queue.StateWaiting
	})
	e.seat("1001")
	eventually(t, 500, "the callback offered first", func() bool {
		c, err := e.q.Contact(ctx, ct.TrackingNo)
		return err == nil && c.State == queue.StateOffered && c.Agent == "1001"
	})
	c2, err := e.q.Contact(ctx, ct2.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, queue.StateWaiting, c2.State, "the later caller waits behind it")

	require.NoError(t, e.q.Accept(ctx, "1001", ct.TrackingNo)) // the desk's accept
	_, err = agent.WaitEvent(ctx, "CALL_ESTABLISHED", 0)
	require.NoError(t, err, "the agent's phone is rung first")
	eventually(t, 1500, "the citizen answers and is bridged", func() bool {
		for _, cl := range e.s.liveCalls() {
			if cl.trackingNo() == ct.TrackingNo && cl.State() == stTalking {
				return true
			}
		}
		return false
	})
	time.Sleep(2 * time.Second) // they talk
	require.NoError(t, agent.Hangup(ctx))
	res, err = citizen.Wait()
	require.NoError(t, err)
	require.Equal(t, 1, res.Successful, "the citizen's call ended cleanly: %s", res.Errors)
	_, err = agent.WaitEvent(ctx, "CALL_CLOSED", 0)
	require.NoError(t, err)
	heard, err := agent.Recording()
	require.NoError(t, err)
	require.True(t, siptest.HasTone(heard, siptest.AgentToneHz), "the agent hears the citizen (1700 Hz): ratio %.2f",
		siptest.Tone(heard, siptest.AgentToneHz))
	eventually(t, 500, "the callback waits for wrap-up", func() bool {
		c, err := e.q.Contact(ctx, ct.TrackingNo)
		return err == nil && c.State == queue.StateWrapUp
	})
}

// smsRecorder stands in for the SMS gateway (a carrier is outside our
// reach): it keeps what would be sent.
type smsRecorder struct {
	mu   sync.Mutex
	sent []string
}

func (r *smsRecorder) Reply(_ context.Context, c *queue.Contact, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, c.Citizen.Phone+" "+text)
	return nil
}

func (r *smsRecorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sent...)
}

// TestUnansweredCallbackRetriedThenFailed: the citizen's phone (a sipp UAS)
// is busy. The first callback is parked and comes back to the queue after
// sip.callback.retry_every; the retry is busy too, and with retries 1 the
// contact closes callback_failed and the citizen is sent an SMS.
func TestUnansweredCallbackRetriedThenFailed(t *testing.T) {
	siptest.RequireTools(t, "sipp", "baresip")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	citizen := siptest.Sipp(t, siptest.SippOptions{Scenario: "citizen-busy.xml", AutoAnswer: true, Calls: 2})
	sms := &smsRecorder{}
	e := newEnvWith(t, queuetest.RedisServer(t), "node-a", func(p *Params) { p.SMS = sms }, func(c *Config) {
		c.Trunk.Proxy = citizen.Addr()
		c.Callback.Retries = 1
		c.Callback.RetryEvery = 300 * time.Millisecond
	})
	tn := e.waitingCall(t, "+8613800138801")
	require.NoError(t, e.q.RequestCallback(ctx, tn, "+8613800138801"))
	agent := agentPhone(ctx, t, e, "1001")
	e.seat("1001")
	for try := 1; try <= 2; try++ {
		eventually(t, 1500, "the callback offered", func() bool {
			c, err := e.q.Contact(ctx, tn)
			return err == nil && c.State == queue.StateOffered && c.Agent == "1001"
		})
		require.NoError(t, e.q.Accept(ctx, "1001", tn))
		_, err := agent.WaitEvent(ctx, "CALL_CLOSED", try-1)
		require.NoError(t, err, "the agent's phone rang, then was hung up after the busy citizen")
		if try == 1 {
			eventually(t, 1500, "parked after the first try", func() bool {
				c, err := e.q.Contact(ctx, tn)
				return err == nil && c.CallbackTries == 1
			})
		}
	}
	eventually(t, 1500, "given up", func() bool {
		c, err := e.q.Contact(ctx, tn)
		return err == nil && c.State == queue.StateClosed
	})
	c, err := e.q.Contact(ctx, tn)
	require.NoError(t, err)
	require.Equal(t, queue.OutcomeCallbackFailed, c.Outcome)
	require.Equal(t, 2, c.CallbackTries)
	sent := sms.got()
	require.Len(t, sent, 1)
	require.Contains(t, sent[0], "+8613800138801 ")
	require.Contains(t, sent[0], tn)
	res, err := citizen.Wait()
	require.NoError(t, err)
	require.Equal(t, 2, res.Successful, "two callbacks placed: %s", res.Errors)
}

// TestQuietHours: windows across midnight and within a day.
func TestQuietHours(t *testing.T) {
	s := &Server{cfg: Config{Callback: Callback{QuietHours: map[string]string{"*": "21:00-08:00", "12315": "12:00-13:30"}}}}
	at := func(h, m int) time.Time { return time.Date(2026, 11, 30, h, m, 0, 0, chinaTime) }
	for _, tc := range []struct {
		line  string
		now   time.Time
		quiet bool
		until time.Time
	}{
		{"12345", at(22, 0), true, at(8, 0).Add(24 * time.Hour)},
		{"12345", at(7, 59), true, at(8, 0)},
		{"12345", at(8, 0), false, time.Time{}},
		{"12345", at(20, 59), false, time.Time{}},
		{"12315", at(12, 30), true, at(13, 30)},
		{"12315", at(22, 0), false, time.Time{}},
	} {
		until, quiet := s.quietUntil(tc.line, tc.now)
		require.Equal(t, tc.quiet, quiet, "%s at %s", tc.line, tc.now)
		require.True(t, until.Equal(tc.until), "%s at %s: until %s", tc.line, tc.now, until)
	}
}

// FuzzParseQuietHours: no input panics; an accepted window is two times of
// day that differ.
func FuzzParseQuietHours(f *testing.F) {
	for _, s := range []string{"21:00-08:00", "12:00-13:30", "00:00-23:59", "8:00-9:00", "25:00-01:00", "", "-", "21:00",
		"21:00-21:00", " 21:00 - 08:00 ", "21:00-08:00-09:00", "２１:00-08:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		from, to, err := ParseQuietHours(s)
		if err != nil {
			return
		}
		require.NotEqual(t, from, to)
		require.True(t, from >= 0 && from < 24*60 && to >= 0 && to < 24*60)
	})
}

// waitingCall queues a caller straight on the queue (as this node's call)
// and returns its tracking number.
func (e *env) waitingCall(t *testing.T, phone string) string {
	t.Helper()
	r, err := e.q.EnqueueCall(context.Background(), queue.Intake{Line: "12345", Queue: "general",
		Citizen: queue.Citizen{Address: phone, Phone: phone}}, queue.Call{ID: "test-" + phone, Node: e.q.NodeID()})
	require.NoError(t, err)
	return r.TrackingNo
}
