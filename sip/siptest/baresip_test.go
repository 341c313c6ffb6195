package siptest

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/emiago/sipgo"
)

func TestBaresipRegistersAndAnswers(t *testing.T) {
	t.Parallel()
	ctx := boundCtx(t)
	p := newGoPeer(t, false, 0)
	phone := Baresip(t, BaresipOptions{SIPAddr: p.addr.String(), User: "1001", Password: "demo", AutoAnswer: true})
	if err := phone.WaitRegistered(ctx); err != nil {
		t.Fatal(err)
	}
	contact := p.contact("1001")
	if contact == "" {
		t.Fatal("the registrar has no contact for 1001")
	}
	sess, media, err := p.call(ctx, contact)
	if err != nil {
		t.Fatal(err)
	}
	stop := p.rec.Send(media, PayloadPCMU, SineWave(CallerToneHz, SampleRate, 12000)).Stop
	// One second of what the phone sends.
	if err := p.rec.WaitPackets(ctx, PayloadPCMU, 50); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := sess.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.WaitEvent(ctx, "CALL_CLOSED", 0); err != nil {
		t.Fatal(err)
	}
	heardByGo := p.rec.Audio()
	t.Logf("Go heard %d samples, %v Hz ratio %.2f", len(heardByGo), float64(AgentToneHz), Tone(heardByGo, AgentToneHz))
	if !HasTone(heardByGo, AgentToneHz) {
		t.Errorf("the phone's audio lacks its %v Hz tone (ratio %.2f, RMS %.0f)", float64(AgentToneHz), Tone(heardByGo, AgentToneHz), RMS(heardByGo))
	}
	heardByPhone, err := phone.Recording()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("phone heard %d samples, %v Hz ratio %.2f", len(heardByPhone), float64(CallerToneHz), Tone(heardByPhone, CallerToneHz))
	if !HasTone(heardByPhone, CallerToneHz) {
		t.Errorf("the phone's recording (%d samples) lacks the caller's %v Hz tone (ratio %.2f, RMS %.0f)",
			len(heardByPhone), float64(CallerToneHz), Tone(heardByPhone, CallerToneHz), RMS(heardByPhone))
	}
	sent, err := phone.Sent()
	if err != nil {
		t.Fatal(err)
	}
	if !HasTone(sent, AgentToneHz) {
		t.Errorf("the phone's sent dump lacks its tone")
	}
}

func TestBaresipDialsAndHangsUp(t *testing.T) {
	t.Parallel()
	ctx := boundCtx(t)
	p := newGoPeer(t, false, CallerToneHz)
	// The committed fixture, 5 s: enough for this call.
	phone := Baresip(t, BaresipOptions{User: "1002", AudioFile: Testdata(t, "audio", "agent-1700hz.wav")})
	if err := phone.Dial(ctx, "sip:12345@"+p.addr.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.WaitEvent(ctx, "CALL_ESTABLISHED", 0); err != nil {
		t.Fatal(err)
	}
	if err := p.rec.WaitPackets(ctx, PayloadPCMU, 50); err != nil {
		t.Fatal(err)
	}
	if err := phone.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.byeDone:
	case <-ctx.Done():
		t.Fatal("no BYE after hangup")
	}
	if inv := p.lastInvite(); inv == nil || inv.Recipient.User != "12345" {
		t.Fatalf("INVITE %v, want one to 12345", inv)
	}
	if !HasTone(p.rec.Audio(), AgentToneHz) {
		t.Error("the peer did not hear the phone's tone")
	}
	if _, err := phone.WaitEvent(ctx, "CALL_CLOSED", 0); err != nil {
		t.Fatal(err)
	}
	heard, err := phone.Recording()
	if err != nil {
		t.Fatal(err)
	}
	if !HasTone(heard, CallerToneHz) {
		t.Errorf("the phone did not hear the peer's tone (ratio %.2f, RMS %.0f, %d samples)", Tone(heard, CallerToneHz), RMS(heard), len(heard))
	}
}

func TestSippCallerToBaresip(t *testing.T) {
	t.Parallel()
	// The two real peers of the bridged-call tests, talking directly: sipp's
	// INVITE (PCMU, PCMA, telephone-event) is auto-answered by baresip, which
	// hears the caller's tone.
	ctx := boundCtx(t)
	phone := Baresip(t, BaresipOptions{User: "1003", AutoAnswer: true})
	caller := Sipp(t, SippOptions{Scenario: "caller.xml", Target: phone.Addr(), Service: "1003",
		Vars: map[string]string{"hold_ms": "1000"}})
	if _, err := caller.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.WaitEvent(ctx, "CALL_CLOSED", 0); err != nil {
		t.Fatal(err)
	}
	heard, err := phone.Recording()
	if err != nil {
		t.Fatal(err)
	}
	if !HasTone(heard, CallerToneHz) || HasTone(heard, AgentToneHz) {
		t.Errorf("baresip heard %d samples: %v Hz ratio %.2f, %v Hz ratio %.2f; want the caller's tone",
			len(heard), float64(CallerToneHz), Tone(heard, CallerToneHz), float64(AgentToneHz), Tone(heard, AgentToneHz))
	}
}

func TestBaresipManualAnswerAndDecline(t *testing.T) {
	t.Parallel()
	ctx := boundCtx(t)
	p := newGoPeer(t, false, 0)
	phone := Baresip(t, BaresipOptions{SIPAddr: p.addr.String(), User: "1001"})
	if err := phone.WaitRegistered(ctx); err != nil {
		t.Fatal(err)
	}

	// Answered by hand: ringing until Answer.
	type answer struct {
		media netip.AddrPort
		err   error
	}
	done := make(chan answer, 1)
	go func() {
		_, media, err := p.call(ctx, p.contact("1001"))
		done <- answer{media, err}
	}()
	if _, err := phone.WaitEvent(ctx, "CALL_INCOMING", 0); err != nil {
		t.Fatal(err)
	}
	if err := phone.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	if a := <-done; a.err != nil {
		t.Fatal(a.err)
	}
	if err := phone.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.WaitEvent(ctx, "CALL_CLOSED", 0); err != nil {
		t.Fatal(err)
	}

	// Declined while ringing: the caller gets a final non-2xx answer.
	go func() {
		_, _, err := p.call(ctx, p.contact("1001"))
		done <- answer{err: err}
	}()
	if _, err := phone.WaitEvent(ctx, "CALL_INCOMING", 1); err != nil {
		t.Fatal(err)
	}
	if err := phone.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	a := <-done
	var derr *sipgo.ErrDialogResponse
	if !errors.As(a.err, &derr) {
		t.Fatalf("declined call: %v, want a dialog response error", a.err)
	}
	t.Logf("declined with %d %s", derr.Res.StatusCode, derr.Res.Reason)
	if derr.Res.StatusCode < 400 {
		t.Fatalf("declined with %d", derr.Res.StatusCode)
	}
}
