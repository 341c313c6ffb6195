package sip

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// longWelcome makes the welcome of 12345 last a minute, so a test can act
// while the caller is in it.
func longWelcome(p *Params) {
	fs := fstest.MapFS{}
	for k, v := range p.Prompts.(fstest.MapFS) {
		fs[k] = v
	}
	pcm := siptest.SineWave(toneWelcome, 60*siptest.SampleRate, 8000)
	fs["prompts/welcome-12345.wav"] = &fstest.MapFile{Data: siptest.EncodeWAV(pcm, siptest.SampleRate)}
	p.Prompts = fs
}

// TestSippCallerLostInTheWelcome: a sipp caller is answered and hears the
// welcome; the call is a contact from the answer (state ivr, in no queue).
// The node then stops without draining: the caller becomes a callback
// contact waiting in the line's queue, with the caller's number, counted as
// a callback — not an abandoned call, and not nothing.
func TestSippCallerLostInTheWelcome(t *testing.T) {
	siptest.RequireTools(t, "sipp")
	e := newEnvWith(t, queuetest.RedisServer(t), "node-a", longWelcome)
	run := siptest.Sipp(t, siptest.SippOptions{Scenario: "caller.xml", Target: e.s.Addr().String(), Service: "12345",
		Vars: map[string]string{"hold_ms": "20000", "caller": "13800138701"}})
	ct := contactOf(t, e, "+8613800138701")
	require.Equal(t, queue.StateIVR, ct.State, "a contact from the answer, before the welcome ends")
	eventually(t, 100, "in the welcome", func() bool {
		calls := e.s.liveCalls()
		return len(calls) == 1 && calls[0].State() == stIVR
	})
	pos, err := e.q.Position(context.Background(), ct.TrackingNo)
	require.NoError(t, err)
	require.Zero(t, pos, "in no queue during the welcome")
	stats, err := e.q.CallStats(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(1), stats["general"].IVR)
	require.Equal(t, int64(0), stats["general"].Waiting)

	e.stop()
	_, _ = run.Wait() // the node hung up on it
	got, err := e.q.Contact(context.Background(), ct.TrackingNo)
	require.NoError(t, err)
	require.True(t, got.Callback, "a callback contact")
	require.Equal(t, queue.StateWaiting, got.State)
	require.Equal(t, "general", got.Queue)
	require.Equal(t, "+8613800138701", got.Citizen.Phone)
	pos, err = e.q.Position(context.Background(), ct.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, 1, pos)
	stats, err = e.q.CallStats(context.Background())
	require.NoError(t, err)
	require.Equal(t, queue.CallCounts{Callbacks: 1}, stats["general"])
}

// TestSippHangupInTheWelcome: a sipp caller who hangs up during the welcome
// was never in a queue: the contact made at the answer is dropped, and no
// statistic counts the call (not abandoned), as before calls were recorded
// at their answer.
func TestSippHangupInTheWelcome(t *testing.T) {
	siptest.RequireTools(t, "sipp")
	e := newEnvWith(t, queuetest.RedisServer(t), "node-a", longWelcome)
	run := siptest.Sipp(t, siptest.SippOptions{Scenario: "caller.xml", Target: e.s.Addr().String(), Service: "12345",
		Vars: map[string]string{"hold_ms": "1500", "caller": "13800138702"}})
	ct := contactOf(t, e, "+8613800138702")
	require.Equal(t, queue.StateIVR, ct.State)
	res, err := run.Wait()
	require.NoError(t, err)
	require.Equal(t, 1, res.Successful, "%s", res.Errors)
	eventually(t, 300, "the contact is dropped", func() bool {
		_, err := e.q.Contact(context.Background(), ct.TrackingNo)
		return err != nil
	})
	stats, err := e.q.CallStats(context.Background())
	require.NoError(t, err)
	require.Equal(t, queue.CallCounts{}, stats["general"])
	calls, err := e.q.Calls(context.Background(), "node-a")
	require.NoError(t, err)
	require.Empty(t, calls)
}

// TestSippQueuedAtTheAnswerTimesPlace: a caller answered first but queued
// after a later caller (a longer menu) waits ahead of them: the place is the
// answer's.
func TestSippQueuedAtTheAnswerTimesPlace(t *testing.T) {
	siptest.RequireTools(t, "sipp")
	e := newEnv(t, withMenu)
	first := siptest.Sipp(t, siptest.SippOptions{Scenario: "caller-dtmf.xml", Target: e.s.Addr().String(), Service: "12345",
		Vars: map[string]string{"digit": "1", "before_ms": "2500", "hold_ms": "6000", "caller": "13800138703"}})
	a := contactOf(t, e, "+8613800138703")
	second := siptest.Sipp(t, siptest.SippOptions{Scenario: "caller-dtmf.xml", Target: e.s.Addr().String(), Service: "12345",
		Vars: map[string]string{"digit": "1", "before_ms": "800", "hold_ms": "6000", "caller": "13800138704"}})
	b := contactOf(t, e, "+8613800138704")
	eventually(t, 500, "both queued", func() bool {
		pa, _ := e.q.Position(context.Background(), a.TrackingNo)
		pb, _ := e.q.Position(context.Background(), b.TrackingNo)
		return pa > 0 && pb > 0
	})
	pa, _ := e.q.Position(context.Background(), a.TrackingNo)
	pb, _ := e.q.Position(context.Background(), b.TrackingNo)
	require.Equal(t, []int{1, 2}, []int{pa, pb}, "the caller answered first is ahead")
	ga, err := e.q.Contact(context.Background(), a.TrackingNo)
	require.NoError(t, err)
	gb, err := e.q.Contact(context.Background(), b.TrackingNo)
	require.NoError(t, err)
	require.True(t, ga.QueuedAt.After(gb.QueuedAt), "queued after the second caller, at %v (second %v)", ga.QueuedAt, gb.QueuedAt)
	_, _ = first.Wait()
	_, _ = second.Wait()
}
