package sip

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
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
