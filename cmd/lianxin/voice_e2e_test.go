package main

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// noMenus sends calls to 12345 straight to its queue after the welcome.
func noMenus(c *configs.Config) { c.SIP.Menus = map[string]sip.Menu{} }

// TestVoiceToBaresipAndDesk: a real agent phone (baresip) registers with
// digest as agent 1001, whose desk is ready; a sipp caller dials 12345 and is
// bridged to the phone, which hears the caller's tone; the desk is offered
// the call, sees it assigned when the phone answers and ended when the
// caller hangs up, and wraps it up. Then a Go caller, which records what it
// hears, is bridged the same way and hears the agent's tone.
//
// Not in parallel with the other tests: it checks the RTP timestamps frame by
// frame, and a gateway starved of CPU by a browser test next to it on a small
// machine skips a frame (seen: 3 frames of ~250 skipped).
func TestVoiceToBaresipAndDesk(t *testing.T) {
	siptest.RequireTools(t, "sipp", "baresip")
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a", noMenus)
	gw := n.n.voice.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	phone, d := readyWithPhone(ctx, t, gw, n.base, "1001")

	caller := siptest.Sipp(t, siptest.SippOptions{Scenario: "caller.xml", Target: gw, Service: "12345",
		Vars: map[string]string{"hold_ms": "9000", "caller": "13800138000"}})
	offer := next(t, d, "offer").Object()
	require.Equal(t, "voice", offer.Channel)
	require.Equal(t, "12345", offer.Line)
	require.Equal(t, "+8613800138000", offer.Citizen.Phone)
	tn := offer.TrackingNo
	require.Equal(t, tn, next(t, d, "assigned").Object().TrackingNo, "answering the phone accepts the call")
	res, err := caller.Wait()
	require.NoError(t, err)
	require.Equal(t, 1, res.Successful, "sipp: %s", res.Errors)
	ended := next(t, d, "ended")
	require.Equal(t, tn, ended.TrackingNo())
	send(t, d, "wrapup", map[string]any{"contact": tn, "request_type": "consultation", "outcome": "resolved"})
	require.Equal(t, tn, next(t, d, "closed").TrackingNo())

	_, err = phone.WaitEvent(ctx, "CALL_CLOSED", 0)
	require.NoError(t, err)
	heard, err := phone.Recording()
	require.NoError(t, err)
	require.True(t, siptest.HasTone(heard, siptest.CallerToneHz), "the agent hears the caller: %v Hz ratio %.2f",
		float64(siptest.CallerToneHz), siptest.Tone(heard, siptest.CallerToneHz))

	// The other way, by content: a caller that records what it hears.
	call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: gw, Number: "12345", From: "13900139000"})
	require.NoError(t, err)
	tn2 := next(t, d, "assigned").Object().TrackingNo
	require.NoError(t, call.Rec.WaitFor(ctx, func(p []siptest.RTPPacket) bool {
		a := siptest.DecodeG711(p)
		return len(a) > 8000*2 && siptest.HasTone(a[len(a)-8000:], siptest.AgentToneHz)
	}), "the caller hears the agent")
	require.NoError(t, call.Rec.Continuity(), "one continuous stream from the welcome to the agent")
	require.NoError(t, call.Hangup(ctx))
	require.Equal(t, tn2, next(t, d, "ended").TrackingNo())
}

// readyWithPhone registers agent's auto-answering baresip phone with the
// gateway at gw, opens their desk on the node at base and goes ready,
// returning once the desk's state says ready with the phone registered.
func readyWithPhone(ctx context.Context, t *testing.T, gw, base, agent string) (*siptest.BaresipPhone, *desktest.Client) {
	t.Helper()
	phone := siptest.Baresip(t, siptest.BaresipOptions{SIPAddr: gw, User: agent, Password: "demo", AutoAnswer: true})
	require.NoError(t, phone.WaitRegistered(ctx))
	d := desk(t, base, agent)
	send(t, d, "ready", nil)
	for {
		m := next(t, d, "state")
		var st struct {
			Phone bool `json:"phone"`
		}
		require.NoError(t, jsonUnmarshal(m.Raw, &st))
		if m.State == "ready" && st.Phone {
			break
		}
	}
	return phone, d
}
