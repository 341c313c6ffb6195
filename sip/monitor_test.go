package sip

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// toneSupervisor is what the supervisor's phone sends while listening in.
const toneSupervisor = 2300.0

// goertzel is the mean Goertzel ratio (siptest.Tone) of the last n packets
// at hz, and how many of them were audio.
func goertzel(pkts []rtp.Packet, n int, hz float64) (float64, int) {
	h := heard(pkts)
	if len(h) > n {
		h = h[len(h)-n:]
	}
	var sum float64
	for _, pcm := range h {
		sum += siptest.Tone(pcm, hz)
	}
	if len(h) == 0 {
		return 0, 0
	}
	return sum / float64(len(h)), len(h)
}

// monitorNotes collects what the supervisor's desk is told.
type monitorNotes chan MonitorInfo

func (n monitorNotes) notify(m any) {
	if mi, ok := m.(MonitorInfo); ok {
		select {
		case n <- mi:
		default:
		}
	}
}

func (n monitorNotes) wait(t *testing.T, state string) MonitorInfo {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m := <-n:
			if m.State == state {
				return m
			}
		case <-deadline:
			t.Fatalf("no monitoring %s", state)
		}
	}
}

// TestSilentMonitor: a supervisor listens in to a talking call on their SIP
// phone: they hear the caller's tone and the agent's tone mixed (Goertzel
// ratios of each about one half); what their phone sends (its own tone)
// reaches neither the caller nor the agent (ratio ≈ 0 at its frequency).
// Stopping sends their phone BYE and the call goes on; a call or a phone that
// is not there is refused by name.
func TestSilentMonitor(t *testing.T) {
	e := newEnv(t)
	agent := newPhone(t, e, "1001", 0)
	sup := newPhoneTone(t, e, "1002", 0, toneSupervisor)
	e.seat("1001")
	c := dial(t, e, "12345", "13800138000", media.PCMU)
	eventually(t, 500, "the caller hears the agent", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneAgent) })
	tn, _ := agent.contact.Load().(string)

	ctx := context.Background()
	require.ErrorIs(t, e.s.Monitor(ctx, "1002", "1009", "", nil), ErrMonitorNoCall)
	require.ErrorIs(t, e.s.Monitor(ctx, "1005", "1001", "", nil), ErrMonitorNoPhone, "1005 has no phone registered")
	require.ErrorIs(t, e.s.MonitorStop("1002"), ErrNotMonitoring)

	notes := make(monitorNotes, 16)
	require.NoError(t, e.s.Monitor(ctx, "1002", "1001", "", notes.notify))
	on := notes.wait(t, "listening")
	require.Equal(t, tn, on.Contact)
	require.Equal(t, "1001", on.Agent)
	callerFrom, agentFrom := len(c.rtp.packets()), len(agent.rtp.packets())

	// The supervisor hears both: each tone carries about half the energy.
	var gc, ga float64
	eventually(t, 500, "the supervisor hears the caller and the agent", func() bool {
		var n int
		gc, n = goertzel(sup.rtp.packets(), 50, toneCaller)
		ga, _ = goertzel(sup.rtp.packets(), 50, toneAgent)
		return n == 50 && gc > 0.3 && ga > 0.3
	})
	gs, _ := goertzel(sup.rtp.packets(), 50, toneSupervisor)
	t.Logf("supervisor hears (Goertzel ratio, mean of 50 packets): caller %.0f Hz %.3f, agent %.0f Hz %.3f, own %.0f Hz %.4f",
		toneCaller, gc, toneAgent, ga, toneSupervisor, gs)
	require.Greater(t, gc+ga, 0.8, "nearly all the energy is the two parties")

	// The supervisor's phone did send (the gateway received it) ...
	e.s.mu.Lock()
	m := e.s.monitors["1002"]
	e.s.mu.Unlock()
	require.NotNil(t, m)
	eventually(t, 300, "the supervisor's phone sends", func() bool { return m.leg.Stats().PacketsReceived >= 50 })
	// ... and neither party heard any of it.
	eventually(t, 300, "a second of the call since the monitor began", func() bool {
		return len(c.rtp.packets())-callerFrom >= 50 && len(agent.rtp.packets())-agentFrom >= 50
	})
	cs, n1 := goertzel(c.rtp.packets()[callerFrom:], 1<<30, toneSupervisor)
	as, n2 := goertzel(agent.rtp.packets()[agentFrom:], 1<<30, toneSupervisor)
	ca, _ := goertzel(c.rtp.packets()[callerFrom:], 1<<30, toneAgent)
	ac, _ := goertzel(agent.rtp.packets()[agentFrom:], 1<<30, toneCaller)
	t.Logf("while monitored: caller heard %d packets (agent %.3f, supervisor %.4f); agent heard %d (caller %.3f, supervisor %.4f)",
		n1, ca, cs, n2, ac, as)
	require.Less(t, cs, 0.01, "the caller hears nothing of the supervisor")
	require.Less(t, as, 0.01, "the agent hears nothing of the supervisor")
	require.Greater(t, ca, 0.8, "the caller still hears the agent")
	require.Greater(t, ac, 0.8, "the agent still hears the caller")

	// Stop: the supervisor's phone gets BYE; the call goes on.
	d := <-sup.sessions
	require.NoError(t, e.s.MonitorStop("1002"))
	require.Equal(t, "stopped", notes.wait(t, "ended").Reason)
	select {
	case <-d.Context().Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the supervisor's phone got no BYE")
	}
	require.Nil(t, e.s.monitors["1002"])
	from := len(c.rtp.packets())
	eventually(t, 300, "the caller still hears the agent", func() bool {
		return len(c.rtp.packets())-from >= 10 && mostly(lastTone(c.rtp.packets(), 10), toneAgent)
	})

	// Listening again, by contact; the supervisor hangs up.
	require.NoError(t, e.s.Monitor(ctx, "1002", "", tn, notes.notify))
	notes.wait(t, "listening")
	d = <-sup.sessions
	bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, d.Bye(bctx))
	require.Equal(t, "hung_up", notes.wait(t, "ended").Reason)

	// The call ending ends a monitor too.
	require.NoError(t, e.s.Monitor(ctx, "1002", "1001", "", notes.notify))
	notes.wait(t, "listening")
	d = <-sup.sessions
	c.hangup(t)
	require.Equal(t, "call_ended", notes.wait(t, "ended").Reason)
	select {
	case <-d.Context().Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the supervisor's phone got no BYE when the call ended")
	}
	var pe *PhoneError
	require.True(t, errors.As(e.s.Monitor(ctx, "1002", "1001", "", nil), &pe), "no call now")
}

// TestSilentMonitorBaresip: the supervisor's phone is a real one (baresip,
// auto-answer, sending its own tone); what it recorded has the caller's and
// the agent's tones, and neither party heard its tone.
func TestSilentMonitorBaresip(t *testing.T) {
	siptest.RequireTools(t, "baresip")
	e := newEnv(t)
	agent := newPhone(t, e, "1001", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sup := siptest.Baresip(t, siptest.BaresipOptions{SIPAddr: e.s.Addr().String(), User: "1002", Password: "demo",
		AutoAnswer: true, ToneHz: toneSupervisor})
	require.NoError(t, sup.WaitRegistered(ctx))
	e.seat("1001")
	c := dial(t, e, "12345", "13800138000", media.PCMU)
	eventually(t, 500, "the caller hears the agent", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneAgent) })

	notes := make(monitorNotes, 16)
	require.NoError(t, e.s.Monitor(ctx, "1002", "1001", "", notes.notify))
	notes.wait(t, "listening")
	callerFrom, agentFrom := len(c.rtp.packets()), len(agent.rtp.packets())
	e.s.mu.Lock()
	m := e.s.monitors["1002"]
	e.s.mu.Unlock()
	eventually(t, 1000, "three seconds to the supervisor's phone", func() bool { return m.leg.Stats().PacketsSent >= 150 })
	eventually(t, 1000, "the supervisor's phone sends", func() bool { return m.leg.Stats().PacketsReceived >= 50 })
	t.Logf("the supervisor's leg: %+v", m.leg.Stats())
	require.NoError(t, e.s.MonitorStop("1002"))
	_, err := sup.WaitEvent(ctx, "CALL_CLOSED", 0)
	require.NoError(t, err)
	heard, err := sup.Recording()
	require.NoError(t, err)
	var gc, ga, gs float64
	n := 0
	for i := 0; i+160 <= len(heard); i += 160 {
		w := heard[i : i+160]
		if siptest.RMS(w) < 100 {
			continue
		}
		gc += siptest.Tone(w, toneCaller)
		ga += siptest.Tone(w, toneAgent)
		gs += siptest.Tone(w, toneSupervisor)
		n++
	}
	require.Greater(t, n, 100, "seconds of sound at the supervisor's phone (%d samples recorded)", len(heard))
	gc, ga, gs = gc/float64(n), ga/float64(n), gs/float64(n)
	cs, _ := goertzel(c.rtp.packets()[callerFrom:], 1<<30, toneSupervisor)
	as, _ := goertzel(agent.rtp.packets()[agentFrom:], 1<<30, toneSupervisor)
	t.Logf("baresip supervisor heard %d windows: caller %.3f, agent %.3f, own %.4f; caller heard supervisor %.4f, agent %.4f",
		n, gc, ga, gs, cs, as)
	require.Greater(t, gc, 0.3)
	require.Greater(t, ga, 0.3)
	require.Less(t, cs, 0.01)
	require.Less(t, as, 0.01)
}

// TestSilentMonitorBrowser: a supervisor whose phone is the browser: the
// monitor is answered at once (phone_call talking, monitor true), the
// browser hears the caller and the agent mixed, and what the browser sends
// reaches neither of them.
func TestSilentMonitorBrowser(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.WebRTC.Loopback = true })
	monitorFromBrowser(t, e, e)
}

// TestSilentMonitorAcrossNodes: the call (and the agent's phone) is on node
// A, the supervisor's desk and SIP phone on node B. B asks A through A's
// command stream; A calls B's supervisor phone, which hears the caller and
// the agent mixed, and neither of them hears it. The steps reach B's notify;
// monitor_stop from B ends it on A (BYE to the phone); by contact as well;
// the call ending on A ends B's monitor too.
func TestSilentMonitorAcrossNodes(t *testing.T) {
	a := newEnv(t)
	b := newEnvOn(t, a.redis, "node-b")
	agent := newPhone(t, a, "1001", 0)
	sup := newPhoneTone(t, b, "1002", 0, toneSupervisor)
	a.seat("1001")
	c := dial(t, a, "12345", "13800138000", media.PCMU)
	eventually(t, 500, "the caller hears the agent", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneAgent) })
	tn, _ := agent.contact.Load().(string)

	ctx := context.Background()
	require.ErrorIs(t, b.s.Monitor(ctx, "1002", "1009", "", nil), ErrMonitorNoCall, "1009 talks on no call")
	require.ErrorIs(t, b.s.Monitor(ctx, "1002", "", "20260101-0000001", nil), ErrMonitorNoCall, "no such contact")
	require.ErrorIs(t, b.s.Monitor(ctx, "1005", "1001", "", nil), ErrMonitorNoPhone, "1005 has no phone registered")

	notes := make(monitorNotes, 16)
	start := time.Now()
	require.NoError(t, b.s.Monitor(ctx, "1002", "1001", "", notes.notify))
	notes.wait(t, "ringing")
	ringing := time.Since(start)
	on := notes.wait(t, "listening")
	t.Logf("monitor asked on B to B's desk told: ringing %v, listening %v", ringing, time.Since(start))
	require.Equal(t, tn, on.Contact)
	require.Equal(t, "1001", on.Agent)
	a.s.mu.Lock()
	m := a.s.monitors["1002"]
	a.s.mu.Unlock()
	require.NotNil(t, m, "node A, holding the call, runs the monitor")
	callerFrom, agentFrom := len(c.rtp.packets()), len(agent.rtp.packets())

	var gc, ga float64
	eventually(t, 500, "the supervisor on B hears the caller and the agent on A", func() bool {
		var n int
		gc, n = goertzel(sup.rtp.packets(), 50, toneCaller)
		ga, _ = goertzel(sup.rtp.packets(), 50, toneAgent)
		return n == 50 && gc > 0.3 && ga > 0.3
	})
	eventually(t, 300, "the supervisor's phone sends", func() bool { return m.leg.Stats().PacketsReceived >= 50 })
	eventually(t, 300, "a second of the call since the monitor began", func() bool {
		return len(c.rtp.packets())-callerFrom >= 50 && len(agent.rtp.packets())-agentFrom >= 50
	})
	cs, _ := goertzel(c.rtp.packets()[callerFrom:], 1<<30, toneSupervisor)
	as, _ := goertzel(agent.rtp.packets()[agentFrom:], 1<<30, toneSupervisor)
	ca, _ := goertzel(c.rtp.packets()[callerFrom:], 1<<30, toneAgent)
	ac, _ := goertzel(agent.rtp.packets()[agentFrom:], 1<<30, toneCaller)
	t.Logf("supervisor on B hears: caller %.3f, agent %.3f; caller heard supervisor %.4f (agent %.3f), agent heard supervisor %.4f (caller %.3f)",
		gc, ga, cs, ca, as, ac)
	require.Greater(t, gc+ga, 0.8)
	require.Less(t, cs, 0.01, "the caller hears nothing of the supervisor")
	require.Less(t, as, 0.01, "the agent hears nothing of the supervisor")
	require.Greater(t, ca, 0.8)
	require.Greater(t, ac, 0.8)

	// monitor_stop on B: A sends the phone BYE, and the call goes on.
	d := <-sup.sessions
	require.NoError(t, b.s.MonitorStop("1002"))
	require.Equal(t, "stopped", notes.wait(t, "ended").Reason)
	select {
	case <-d.Context().Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the supervisor's phone got no BYE")
	}
	eventually(t, 500, "A's monitor is gone", func() bool {
		a.s.mu.Lock()
		defer a.s.mu.Unlock()
		return a.s.monitors["1002"] == nil
	})
	require.ErrorIs(t, b.s.MonitorStop("1002"), ErrNotMonitoring)

	// By contact; then the call ends on A, and B is told.
	require.NoError(t, b.s.Monitor(ctx, "1002", "", tn, notes.notify))
	require.Equal(t, "1001", notes.wait(t, "listening").Agent)
	d = <-sup.sessions
	c.hangup(t)
	require.Equal(t, "call_ended", notes.wait(t, "ended").Reason)
	select {
	case <-d.Context().Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the supervisor's phone got no BYE when the call ended")
	}
	b.s.mu.Lock()
	require.Nil(t, b.s.remoteMonitors["1002"])
	b.s.mu.Unlock()

	// A failure found on the call's node comes back as ended with its code.
	b.s.mu.Lock()
	b.s.remoteMonitors["1002"] = &remoteMonitor{id: "x1", node: "node-a", supervisor: "1002", contact: tn,
		notify: notes.notify}
	b.s.mu.Unlock()
	require.NoError(t, b.q.SendCommand(ctx, "node-a", queue.Command{Type: CommandMonitor, TrackingNo: tn,
		Args: map[string]string{"supervisor": "1002", "id": "x1", "node": "node-b"}}))
	require.Equal(t, "not_found", notes.wait(t, "ended").Reason, "A holds that call no more")
}

// TestSilentMonitorBrowserAcrossNodes: the supervisor's desk and browser
// phone are on node B, the call on node A: A calls the browser phone's
// binding on B, which answers at once (phone_call talking, monitor true);
// the browser hears the caller and the agent, and the call hears nothing of
// it; monitor_stop from B ends the browser's call.
func TestSilentMonitorBrowserAcrossNodes(t *testing.T) {
	cfg := func(c *Config) { c.WebRTC.Loopback = true }
	a := newEnv(t, cfg)
	monitorFromBrowser(t, a, newEnvOn(t, a.redis, "node-b", cfg))
}

// monitorFromBrowser: a caller talks to agent 1001's phone on node a;
// supervisor 1002, whose phone is the browser on node b (a itself, or
// another node), listens in: the monitor is answered at once, the browser
// hears the caller and the agent, the call hears nothing of the browser,
// and MonitorStop ends the browser's call.
func monitorFromBrowser(t *testing.T, a, b *env) {
	across := a != b
	br, deskNotes := openBrowser(t, b, "1002")
	br.Say(siptest.SineWave(toneSupervisor, 8000, 8000))
	agent := newPhone(t, a, "1001", 0)
	a.seat("1001")
	c := dial(t, a, "12345", "13800138000", media.PCMU)
	eventually(t, 500, "the caller hears the agent", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneAgent) })
	tn, _ := agent.contact.Load().(string)

	notes := make(monitorNotes, 16)
	require.NoError(t, b.s.Monitor(context.Background(), "1002", "1001", "", notes.notify))
	notes.wait(t, "listening")
	talking := deskNotes.call(t, "talking")
	require.True(t, talking.Monitor)
	require.Equal(t, tn, talking.Contact)
	if across {
		require.Equal(t, "1001", talking.Agent, "the desk shows whose call it is")
	}
	callerFrom, agentFrom := len(c.rtp.packets()), len(agent.rtp.packets())
	var gc, ga float64
	eventually(t, 500, "the browser hears the caller and the agent", func() bool {
		h := br.Heard(8000, false)
		gc, ga = siptest.Tone(h, toneCaller), siptest.Tone(h, toneAgent)
		return len(h) == 8000 && gc > 0.3 && ga > 0.3
	})
	eventually(t, 300, "a second of the call since the monitor began", func() bool {
		return len(c.rtp.packets())-callerFrom >= 50 && len(agent.rtp.packets())-agentFrom >= 50
	})
	cs, _ := goertzel(c.rtp.packets()[callerFrom:], 1<<30, toneSupervisor)
	as, _ := goertzel(agent.rtp.packets()[agentFrom:], 1<<30, toneSupervisor)
	t.Logf("browser supervisor (across nodes: %v) hears (last second): caller %.3f, agent %.3f; caller heard supervisor %.4f, agent %.4f",
		across, gc, ga, cs, as)
	require.Less(t, cs, 0.01)
	require.Less(t, as, 0.01)
	require.NoError(t, b.s.MonitorStop("1002"))
	if across {
		require.Equal(t, "stopped", notes.wait(t, "ended").Reason)
	}
	require.Equal(t, "ended", deskNotes.call(t, "ended").State)
	if across {
		require.Zero(t, c.byes.Load(), "the call goes on")
	}
}
