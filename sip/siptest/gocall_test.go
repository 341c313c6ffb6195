package siptest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/emiago/sipgo"
)

func TestGoDialToSippAgentPhone(t *testing.T) {
	t.Parallel()
	for _, phoneHangsUp := range []bool{false, true} {
		t.Run(fmt.Sprintf("phone hangs up %v", phoneHangsUp), func(t *testing.T) {
			t.Parallel()
			ctx := boundCtx(t)
			vars := map[string]string{}
			if phoneHangsUp {
				vars["hangup_ms"] = "700"
			}
			agent := Sipp(t, SippOptions{Scenario: "agent-phone.xml", Calls: 1, AutoAnswer: true, Vars: vars})
			call, err := GoDial(ctx, t, GoCallOptions{Target: agent.Addr(), Number: "1001", From: "13912345678"})
			if err != nil {
				t.Fatal(err)
			}
			requireFromListener(t, call, agent.Addr())
			if call.PayloadType != PayloadPCMU || call.Media.Port() != uint16(agent.MediaPort()) {
				t.Errorf("answer: PT %d at %v, want PCMU at port %d", call.PayloadType, call.Media, agent.MediaPort())
			}
			if err := call.Rec.WaitPackets(ctx, PayloadPCMU, 25); err != nil {
				t.Fatal(err)
			}
			if heard := call.Rec.Audio(); !HasTone(heard, AgentToneHz) {
				t.Errorf("the caller did not hear the phone's tone (ratio %.2f)", Tone(heard, AgentToneHz))
			}
			if phoneHangsUp {
				select {
				case <-call.Ended():
				case <-ctx.Done():
					t.Fatal("no BYE from the phone")
				}
			} else if err := call.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			if res, err := agent.Wait(); err != nil || res.Successful != 1 {
				t.Fatalf("agent phone: %v, %d successful", err, res.Successful)
			}
		})
	}
}

// requireFromListener fails t unless the call's requests to peer left from
// its listener: sipgo's pool maps peer to the listener, not to a socket of
// sipgo's own (whose reader sipgo can leave behind when the UA closes).
func requireFromListener(t *testing.T, call *GoCall, peer string) {
	t.Helper()
	switch got := SentFrom(call.ua, peer); got {
	case "":
		t.Fatalf("sipgo's pool has no connection for %s", peer)
	case call.laddr:
	default:
		t.Fatalf("the requests to %s left from %s, not from the listener %s", peer, got, call.laddr)
	}
}

func TestGoDialPressesKeys(t *testing.T) {
	t.Parallel()
	ctx := boundCtx(t)
	p := newGoPeer(t, false, 0)
	call, err := GoDial(ctx, t, GoCallOptions{Target: p.addr.String(), Number: "12315"})
	if err != nil {
		t.Fatal(err)
	}
	// Audio, three key presses back to back, audio again.
	if err := p.rec.WaitPackets(ctx, PayloadPCMU, 5); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []byte{2, 10, 0} {
		if err := call.PressKey(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	n := len(p.rec.Packets())
	if err := p.rec.WaitFor(ctx, func(ps []RTPPacket) bool { return countPT(ps[n:], PayloadPCMU) >= 5 }); err != nil {
		t.Fatal(err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	// The dialog's BYE leaves from the listener too: from a socket of
	// sipgo's own, the answer at the listener would leave that socket out
	// of sipgo's pool, open with its reader for good. The peer answers the
	// BYE before it notes it: wait for the note.
	select {
	case <-p.byeDone:
	case <-ctx.Done():
		t.Fatal("the peer did not note the BYE")
	}
	p.mu.Lock()
	byesFrom := p.byesFrom
	p.mu.Unlock()
	if len(byesFrom) != 1 || byesFrom[0] != call.laddr {
		t.Errorf("BYEs from %v, want one from the listener %s", byesFrom, call.laddr)
	}
	if got := p.rec.Digits(TelephoneEventPT); got != "2*0" {
		t.Errorf("peer received digits %q, want 2*0", got)
	}
	if err := p.rec.Continuity(); err != nil {
		t.Error(err)
	}
	if !HasTone(p.rec.Audio(), CallerToneHz) {
		t.Error("no caller tone around the key presses")
	}
}

func TestGoDialHeardByBaresip(t *testing.T) {
	t.Parallel()
	ctx := boundCtx(t)
	phone := Baresip(t, BaresipOptions{User: "1004", AutoAnswer: true})
	call, err := GoDial(ctx, t, GoCallOptions{Target: phone.Addr(), Number: "1004", Codecs: []uint8{PayloadPCMA}})
	if err != nil {
		t.Fatal(err)
	}
	if call.PayloadType != PayloadPCMA {
		t.Errorf("answer chose PT %d for a PCMA-only offer", call.PayloadType)
	}
	if err := call.Rec.WaitPackets(ctx, PayloadPCMA, 25); err != nil {
		t.Fatal(err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.WaitEvent(ctx, "CALL_CLOSED", 0); err != nil {
		t.Fatal(err)
	}
	heard, err := phone.Recording()
	if err != nil {
		t.Fatal(err)
	}
	if !HasTone(heard, CallerToneHz) || !HasTone(call.Rec.Audio(), AgentToneHz) {
		t.Errorf("A-law both ways: phone heard ratio %.2f, caller heard ratio %.2f",
			Tone(heard, CallerToneHz), Tone(call.Rec.Audio(), AgentToneHz))
	}
}

func TestGoDialCancelAndReject(t *testing.T) {
	t.Parallel()
	// Cancelling the context while it rings sends CANCEL: the caller who
	// gives up while ringing, from Go.
	ringer := newGoPeer(t, true, 0)
	ctx, cancel := context.WithCancel(boundCtx(t))
	go func() {
		// Cancel once the peer has the INVITE (it answers 180 at once).
		for range 1000 {
			if ringer.lastInvite() != nil {
				break
			}
			sleepTick()
		}
		cancel()
	}()
	if _, err := GoDial(ctx, t, GoCallOptions{Target: ringer.addr.String()}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled dial: %v", err)
	}

	// A phone that declines: the error carries the response.
	phone := Baresip(t, BaresipOptions{User: "1005"})
	go func() {
		if _, err := phone.WaitEvent(boundCtx(t), "CALL_INCOMING", 0); err == nil {
			_ = phone.Hangup(boundCtx(t))
		}
	}()
	_, err := GoDial(boundCtx(t), t, GoCallOptions{Target: phone.Addr(), Number: "1005"})
	var derr *sipgo.ErrDialogResponse
	if !errors.As(err, &derr) || derr.Res.StatusCode != 486 {
		t.Fatalf("declined dial: %v, want 486", err)
	}
}

func FuzzParseSDPAudio(f *testing.F) {
	f.Add([]byte("v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 8 0 101\r\n"))
	f.Add([]byte("m=audio 0 RTP/AVP 0\nc=IN IP4 10.0.0.1/127\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		addr, pt, err := ParseSDPAudio(b)
		if err != nil {
			return
		}
		if (pt != PayloadPCMU && pt != PayloadPCMA) || addr.Port() == 0 || !addr.Addr().Is4() {
			t.Fatalf("%v PT %d from %q", addr, pt, b)
		}
		if !strings.Contains(string(b), "m=audio ") || !strings.Contains(string(b), "c=IN IP4 ") {
			t.Fatalf("accepted %q without m=audio and c= lines", b)
		}
		// The answer names the address the caller sends to: parsing the same
		// SDP with its lines reversed order-independently finds the same port
		// when there is one m=audio line.
		if strings.Count(string(b), "m=audio ") == 1 && strings.Count(string(b), "c=IN IP4 ") == 1 {
			lines := strings.Split(string(b), "\n")
			slices.Reverse(lines)
			addr2, pt2, err := ParseSDPAudio([]byte(strings.Join(lines, "\n")))
			if err != nil || addr2 != addr || pt2 != pt {
				t.Fatalf("reversed lines: %v %d %v, want %v %d", addr2, pt2, err, addr, pt)
			}
		}
	})
}
