package siptest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/sip/media"
)

func boundCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), bound)
	t.Cleanup(cancel)
	return ctx
}

func TestSippCallerSendsToneAndHearsPeer(t *testing.T) {
	t.Parallel()
	p := newGoPeer(t, false, AgentToneHz, func(p *goPeer) { p.recordRoute = true })
	run := Sipp(t, SippOptions{
		Scenario: "caller.xml", Target: p.addr.String(), Service: "12315",
		Vars: map[string]string{"hold_ms": "1500", "caller": "13812345678"}, Trace: true,
	})
	res, err := run.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Successful != 1 || res.Failed != 0 {
		t.Fatalf("sipp: %d successful, %d failed, want 1, 0", res.Successful, res.Failed)
	}
	inv := p.lastInvite()
	if inv == nil {
		t.Fatal("no INVITE reached the peer")
	}
	if u := inv.Recipient.User; u != "12315" {
		t.Errorf("request-URI user %q, want the dialled 12315", u)
	}
	if u := inv.From().Address.User; u != "13812345678" {
		t.Errorf("From user %q, want 13812345678", u)
	}
	for _, want := range []string{"RTP/AVP 0 8 101", "telephone-event/8000", "PCMA/8000"} {
		if !strings.Contains(string(inv.Body()), want) {
			t.Errorf("SDP offer lacks %q:\n%s", want, inv.Body())
		}
	}
	// ACK and BYE follow the Record-Route.
	msgs := run.Messages()
	route := "Route: <sip:" + p.addr.String() + ";lr>"
	for _, m := range []string{"ACK sip:", "BYE sip:"} {
		i := strings.Index(msgs, m)
		if i < 0 {
			t.Fatalf("sipp's trace shows no %s", m)
		}
		end := strings.Index(msgs[i:], "\n\n")
		if end < 0 {
			end = len(msgs) - i
		}
		if !strings.Contains(msgs[i:i+end], route) {
			t.Errorf("%s without %q:\n%s", m, route, msgs[i:i+end])
		}
	}
	// What the caller sent: PCMU from its media port, the caller's tone.
	ps := p.rec.Packets()
	if len(ps) < 25 {
		t.Fatalf("peer received %d RTP packets from sipp in 1.5 s, want ≥ 25", len(ps))
	}
	if ps[0].From.Port() != uint16(run.MediaPort()) || ps[0].PayloadType != PayloadPCMU {
		t.Errorf("first packet from %v PT %d, want port %d PT 0", ps[0].From, ps[0].PayloadType, run.MediaPort())
	}
	audio := p.rec.Audio()
	if !HasTone(audio, CallerToneHz) || HasTone(audio, AgentToneHz) {
		t.Errorf("caller's audio: %v Hz ratio %.2f, %v Hz ratio %.2f; want the caller's tone only",
			CallerToneHz, Tone(audio, CallerToneHz), AgentToneHz, Tone(audio, AgentToneHz))
	}
}

func TestSippCallerDefaults(t *testing.T) {
	t.Parallel()
	p := newGoPeer(t, false, 0)
	// No variables: hold_ms 3000, caller 1390000<call number>.
	run := Sipp(t, SippOptions{Scenario: "caller.xml", Target: p.addr.String(), Service: "12345"})
	res, err := run.Wait()
	if err != nil {
		t.Fatal(err)
	}
	// (Overload warnings from sipp's watchdog on a busy machine are fine.)
	if strings.Contains(res.Errors, "Invalid double") {
		t.Errorf("sipp complains of unset variables:\n%s", res.Errors)
	}
	if u := p.lastInvite().From().Address.User; u != "13900001" {
		t.Errorf("default caller %q, want 13900001", u)
	}
	// 3 s of 20 ms packets, with slack for start and stop.
	if n := len(p.rec.Packets()); n < 120 {
		t.Errorf("%d packets: the default hold of 3 s was not applied", n)
	}
}

func TestSippCallerDTMF(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code, digit string
	}{{"9", "9"}, {"10", "*"}} {
		t.Run(tc.digit, func(t *testing.T) {
			t.Parallel()
			p := newGoPeer(t, false, 0)
			run := Sipp(t, SippOptions{
				Scenario: "caller-dtmf.xml", Target: p.addr.String(), Service: "12345",
				Vars: map[string]string{"digit": tc.code, "before_ms": "400", "hold_ms": "400"},
			})
			if _, err := run.Wait(); err != nil {
				t.Fatal(err)
			}
			if got := p.rec.Digits(101); got != tc.digit {
				t.Fatalf("digits %q, want %q", got, tc.digit)
			}
			var events []RTPPacket
			for _, pk := range p.rec.Packets() {
				if pk.PayloadType == 101 {
					events = append(events, pk)
				}
			}
			first, err := media.ParseEvent(events[0].Payload)
			if err != nil {
				t.Fatal(err)
			}
			if first.Duration == 0 || !events[0].Marker || first.End {
				t.Errorf("first event packet %+v marker %v: want a non-zero duration, marker, not end", first, events[0].Marker)
			}
			last, _ := media.ParseEvent(events[len(events)-1].Payload)
			if !last.End || len(events) != dtmfSteps+3 {
				t.Errorf("%d event packets ending %+v, want %d ending with E", len(events), last, dtmfSteps+3)
			}
			if events[0].From.Port() != uint16(run.MediaPort()) {
				t.Errorf("key press sent from %v, want sipp's media port %d", events[0].From, run.MediaPort())
			}
			// The tone is paused during the press and resumes after it.
			audio := p.rec.Audio()
			if !HasTone(Window(audio, 0, 300*time.Millisecond), CallerToneHz) {
				t.Error("no caller tone before the press")
			}
			if !HasTone(Window(audio, time.Duration(len(audio))*time.Second/SampleRate-300*time.Millisecond, time.Hour), CallerToneHz) {
				t.Error("no caller tone after the press")
			}
		})
	}
}

func TestSippCallerDTMFStockPcap(t *testing.T) {
	t.Parallel()
	p := newGoPeer(t, false, 0)
	run := Sipp(t, SippOptions{
		Scenario: "caller-dtmf-stock.xml", Target: p.addr.String(), Service: "12345",
		Vars: map[string]string{"digit": "11", "before_ms": "300", "hold_ms": "300"},
	})
	if _, err := run.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := p.rec.Digits(101); got != "#" {
		t.Fatalf("digits %q, want #", got)
	}
	for _, pk := range p.rec.Packets() {
		if pk.PayloadType == 101 {
			if e, _ := media.ParseEvent(pk.Payload); e.Duration != 0 {
				t.Errorf("sipp's stock pcap now starts at duration %d, not 0: update caller-dtmf-stock.xml's note", e.Duration)
			}
			break
		}
	}
}

func TestSippCallerAbandons(t *testing.T) {
	t.Parallel()
	p := newGoPeer(t, false, AgentToneHz)
	run := Sipp(t, SippOptions{
		Scenario: "caller-abandon.xml", Target: p.addr.String(), Service: "12345",
		Vars: map[string]string{"wait_ms": "500"},
	})
	if _, err := run.Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.byeDone:
	default:
		t.Fatal("the peer saw no BYE from the abandoning caller")
	}
}

func TestSippCallerCancelsWhileRinging(t *testing.T) {
	t.Parallel()
	p := newGoPeer(t, true, 0)
	run := Sipp(t, SippOptions{
		Scenario: "caller-cancel.xml", Target: p.addr.String(), Service: "12345",
		Vars: map[string]string{"ring_ms": "200"}, Trace: true,
	})
	res, err := run.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Successful != 1 {
		t.Fatalf("%d successful calls", res.Successful)
	}
	msgs := run.Messages()
	for _, want := range []string{"CANCEL sip:12345@", "SIP/2.0 487", "ACK sip:12345@", "CSeq: 1 CANCEL"} {
		if !strings.Contains(msgs, want) {
			t.Errorf("sipp's trace lacks %q", want)
		}
	}
}

func TestSippCancelFailsWhenAnswered(t *testing.T) {
	t.Parallel()
	// The scenario is a real check: a gateway that answers instead of
	// honouring the CANCEL fails it.
	p := newGoPeer(t, false, 0)
	run := Sipp(t, SippOptions{
		Scenario: "caller-cancel.xml", Target: p.addr.String(), Service: "12345",
		Vars: map[string]string{"ring_ms": "300"},
	})
	res, err := run.Wait()
	if err == nil || res.Failed != 1 {
		t.Fatalf("answered call: err %v, %d failed; want the call failed", err, res.Failed)
	}
}

func TestSippCallerToSippAgentPhone(t *testing.T) {
	t.Parallel()
	// Variables left to their defaults: no complaint of unset variables, and
	// the phone answers at once (a pause of 0 is skipped: see agent-phone.xml).
	agent := Sipp(t, SippOptions{Scenario: "agent-phone.xml", Calls: 1, AutoAnswer: true})
	caller := Sipp(t, SippOptions{Scenario: "caller.xml", Target: agent.Addr(), Service: "1001",
		Vars: map[string]string{"hold_ms": "500"}})
	for name, run := range map[string]*SippRun{"caller": caller, "agent phone": agent} {
		res, err := run.Wait()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Successful != 1 {
			t.Fatalf("%s: %d successful calls", name, res.Successful)
		}
		if strings.Contains(res.Errors, "Invalid double") {
			t.Errorf("%s: sipp complains of unset variables:\n%s", name, res.Errors)
		}
	}
}

func TestSippAgentPhone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		vars     map[string]string
		echo     bool
		hearHz   float64 // what the Go caller hears from the phone
		phoneBye bool
	}{
		{"plays agent tone, gateway hangs up", map[string]string{"answer_ms": "100"}, false, AgentToneHz, false},
		{"echoes caller, gateway hangs up", map[string]string{"play": "0"}, true, CallerToneHz, false},
		{"agent hangs up", map[string]string{"hangup_ms": "600"}, false, AgentToneHz, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := boundCtx(t)
			agent := Sipp(t, SippOptions{Scenario: "agent-phone.xml", Calls: 1, AutoAnswer: true, RTPEcho: tc.echo, Vars: tc.vars, Trace: true})
			p := newGoPeer(t, false, 0)
			sess, media, err := p.call(ctx, "sip:1001@"+agent.Addr())
			if err != nil {
				t.Fatal(err)
			}
			if media.Port() != uint16(agent.MediaPort()) {
				t.Errorf("phone's SDP port %d, want its -mp %d", media.Port(), agent.MediaPort())
			}
			stop := p.rec.Send(media, PayloadPCMU, SineWave(CallerToneHz, SampleRate, 12000)).Stop
			defer stop()
			// 25 packets = 0.5 s of what the phone sends.
			if err := p.rec.WaitPackets(ctx, PayloadPCMU, 25); err != nil {
				t.Fatal(err)
			}
			heard := p.rec.Audio()
			if !HasTone(heard, tc.hearHz) {
				t.Errorf("heard %d samples without the %v Hz tone (ratio %.2f)", len(heard), tc.hearHz, Tone(heard, tc.hearHz))
			}
			if tc.phoneBye {
				select {
				case <-p.byeDone:
				case <-ctx.Done():
					t.Fatal("the phone did not hang up")
				}
			} else if err := sess.Bye(ctx); err != nil {
				t.Fatal(err)
			}
			res, err := agent.Wait()
			if err != nil || res.Successful != 1 {
				t.Fatalf("agent phone: %v, %d successful", err, res.Successful)
			}
		})
	}
}

func TestSippAgentRegisters(t *testing.T) {
	t.Parallel()
	p := newGoPeer(t, false, 0)
	run := Sipp(t, SippOptions{Scenario: "agent-register.xml", Target: p.addr.String(), Service: "1001",
		Args: []string{"-ap", "demo"}, Vars: map[string]string{"contact": "127.0.0.1:5999", "expires": "120"}, Trace: true})
	if _, err := run.Wait(); err != nil {
		t.Fatal(err)
	}
	if c := p.contact("1001"); c != "sip:1001@127.0.0.1:5999;transport=UDP" && c != "sip:1001@127.0.0.1:5999;transport=udp" {
		t.Errorf("registered contact %q", c)
	}
	if !strings.Contains(run.Messages(), "Expires: 120") {
		t.Error("no Expires: 120 in the REGISTER")
	}

	// A wrong password is refused, and the scenario reports the failure.
	bad := Sipp(t, SippOptions{Scenario: "agent-register.xml", Target: p.addr.String(), Service: "1001",
		Args: []string{"-ap", "wrong"}})
	if res, err := bad.Wait(); err == nil || res.Failed != 1 {
		t.Fatalf("wrong password: err %v, %d failed", err, res.Failed)
	}
}

func TestSippAgentsRegisterMany(t *testing.T) {
	t.Parallel()
	p := newGoPeer(t, false, 0)
	run := Sipp(t, SippOptions{Scenario: "agent-register-many.xml", Target: p.addr.String(), Calls: 4, Rate: 50,
		Inject: []string{"1001;demo", "1002;demo", "1003;demo", "1004;wrong"},
		Vars:   map[string]string{"contact": "127.0.0.1:5998"}})
	res, err := run.Wait()
	if err == nil || res.Successful != 3 || res.Failed != 1 {
		t.Fatalf("err %v, %d successful, %d failed; want 3 and the wrong password failed", err, res.Successful, res.Failed)
	}
	for _, u := range []string{"1001", "1002", "1003"} {
		if c := p.contact(u); !strings.HasPrefix(c, "sip:"+u+"@127.0.0.1:5998") {
			t.Errorf("user %s registered contact %q", u, c)
		}
	}
	if c := p.contact("1004"); c != "" {
		t.Errorf("1004 with a wrong password registered %q", c)
	}
}

func TestRTPRecorderSendIsContinuous(t *testing.T) {
	t.Parallel()
	ctx := boundCtx(t)
	a, b := NewRTPRecorder(t), NewRTPRecorder(t)
	sender := a.Send(b.Addr(), PayloadPCMA, SineWave(AgentToneHz, SampleRate/10, 12000)) // 100 ms, looped
	if err := b.WaitPackets(ctx, PayloadPCMA, 10); err != nil {
		t.Fatal(err)
	}
	if err := sender.PressKey(ctx, 11); err != nil {
		t.Fatal(err)
	}
	n := len(b.Packets())
	if err := b.WaitFor(ctx, func(ps []RTPPacket) bool { return countPT(ps[n:], PayloadPCMA) >= 10 }); err != nil {
		t.Fatal(err)
	}
	sender.Stop()
	ps := b.Packets()
	if err := Continuity(ps); err != nil {
		t.Fatal(err)
	}
	if !ps[0].Marker || ps[1].Marker || ps[0].From != a.Addr() {
		t.Errorf("first packets: marker %v %v, from %v (sender %v)", ps[0].Marker, ps[1].Marker, ps[0].From, a.Addr())
	}
	if got := b.Digits(TelephoneEventPT); got != "#" {
		t.Errorf("digits %q, want #", got)
	}
	var events []RTPPacket
	for _, p := range ps {
		if p.PayloadType == TelephoneEventPT {
			events = append(events, p)
		}
	}
	first, _ := media.ParseEvent(events[0].Payload)
	last, _ := media.ParseEvent(events[len(events)-1].Payload)
	if len(events) != dtmfSteps+3 || !events[0].Marker || first.Duration != 160 || !last.End || last.Duration != 160*(dtmfSteps+1) {
		t.Errorf("%d event packets, first %+v (marker %v), last %+v", len(events), first, events[0].Marker, last)
	}
	if audio := b.Audio(); !HasTone(audio, AgentToneHz) {
		t.Errorf("looped A-law tone lost: ratio %.2f", Tone(audio, AgentToneHz))
	}
}

func TestSippStopUAS(t *testing.T) {
	t.Parallel()
	// A UAS without Calls runs until stopped; Stop keeps its counters.
	agent := Sipp(t, SippOptions{Scenario: "agent-phone.xml", AutoAnswer: true, Vars: map[string]string{"play": "0"}})
	caller := Sipp(t, SippOptions{Scenario: "caller.xml", Target: agent.Addr(), Service: "1001", Calls: 2,
		Vars: map[string]string{"hold_ms": "100"}})
	if _, err := caller.Wait(); err != nil {
		t.Fatal(err)
	}
	res, err := agent.Stop(10 * time.Second)
	t.Logf("stopped agent phone: exit %d", res.ExitCode)
	if err != nil || res.Successful != 2 {
		t.Fatalf("stopped agent phone: %v, %d successful", err, res.Successful)
	}
}
