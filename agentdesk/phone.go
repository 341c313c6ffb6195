package agentdesk

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"
)

// Softphone is the browser phone's call and media side (sip.Server implements it). With none, desks keep their
// SIP phones and the phone messages are refused with no_softphone. Errors with a Code() method give the desk
// error's code.
type Softphone interface {
	// OpenPhone makes the browser the agent's phone; notify delivers the phone's messages to the desk.
	OpenPhone(ctx context.Context, agent string, notify func(any)) error
	// ClosePhone gives it up (back to the SIP phone, logout).
	ClosePhone(agent string)
	// LeavePhone is the desk gone without a choice (network, reload): a call on the phone waits a little for the
	// desk to come back (OpenPhone again), else the phone closes.
	LeavePhone(agent string)
	// PhoneOffer answers the browser's WebRTC offer (first, or ICE restart).
	PhoneOffer(ctx context.Context, agent, sdp string) (string, error)
	PhoneAnswer(ctx context.Context, agent string) error
	PhoneHangup(ctx context.Context, agent string) error
	PhoneHold(ctx context.Context, agent string, on bool) error
	PhoneMute(ctx context.Context, agent string, on bool) error
	PhoneDigit(ctx context.Context, agent string, digit rune) error
}

// maxSDP bounds a WebRTC offer (Chromium's, with its candidates, is 2-6 KB).
const maxSDP = 12000

type rtcAnswerMsg struct {
	Type string `json:"type"` // "rtc_answer"
	Ref  string `json:"ref,omitempty"`
	SDP  string `json:"sdp"`
}

// decodePhone checks the browser phone's messages (PROTOCOL.md, "The browser phone"); ok is false for other types.
func decodePhone(m *inbound) (ok bool, err *protocolError) {
	bad := func(msg string) (bool, *protocolError) { return true, &protocolError{"bad_message", msg} }
	switch m.Type {
	case "phone":
		if m.Use != "browser" && m.Use != "sip" {
			return bad("use: must be browser or sip")
		}
	case "rtc_offer":
		if m.SDP == "" || len(m.SDP) > maxSDP || !utf8.ValidString(m.SDP) || !strings.HasPrefix(m.SDP, "v=0") {
			return bad("sdp: an SDP offer (v=0 …) of at most 12000 bytes")
		}
	case "phone_answer", "phone_hangup":
	case "phone_hold", "phone_mute":
		if m.On == nil {
			return bad("on: required, true or false")
		}
	case "phone_dtmf":
		if len(m.Digit) != 1 || !strings.Contains("0123456789*#ABCD", m.Digit) {
			return bad("digit: one of 0-9, *, #, A-D")
		}
	default:
		return false, nil
	}
	return true, nil
}

// phone does one browser phone message; reply is the message to send instead of an ack (nil: ack).
func (d *desk) phone(ctx context.Context, m inbound) (reply any, err error) {
	sp := d.s.softphone
	if sp == nil {
		return nil, &codedError{"no_softphone", "the browser phone is not enabled on this node"}
	}
	id := d.agent.ID
	switch m.Type {
	case "phone":
		if m.Use == "sip" {
			d.setPhone(false)
			sp.ClosePhone(id)
			return nil, nil
		}
		if err := sp.OpenPhone(ctx, id, d.notify); err != nil {
			return nil, err
		}
		d.setPhone(true)
	case "rtc_offer":
		answer, err := sp.PhoneOffer(ctx, id, m.SDP)
		if err != nil {
			return nil, err
		}
		return rtcAnswerMsg{Type: "rtc_answer", Ref: m.Ref, SDP: answer}, nil
	case "phone_answer":
		return nil, sp.PhoneAnswer(ctx, id)
	case "phone_hangup":
		return nil, sp.PhoneHangup(ctx, id)
	case "phone_hold":
		return nil, sp.PhoneHold(ctx, id, *m.On)
	case "phone_mute":
		return nil, sp.PhoneMute(ctx, id, *m.On)
	case "phone_dtmf":
		return nil, sp.PhoneDigit(ctx, id, rune(m.Digit[0]))
	}
	return nil, nil
}

func (d *desk) notify(msg any) { d.send(outbound{msg: msg}) }

func (d *desk) setPhone(on bool) {
	d.mu.Lock()
	d.browserPhone = on
	d.mu.Unlock()
}

// closePhone gives the browser phone up (logout), or leaves it for a while when the desk just went (gone), unless a
// newer desk of the agent took it over.
func (d *desk) closePhone(gone bool) {
	d.mu.Lock()
	on := d.browserPhone
	d.mu.Unlock()
	if !on || d.s.softphone == nil {
		return
	}
	if nd := d.s.desk(d.agent.ID); nd != nil && nd != d {
		return // the newer desk opens its own (which replaces this one's)
	}
	d.setPhone(false)
	if gone {
		d.s.softphone.LeavePhone(d.agent.ID)
		return
	}
	d.s.softphone.ClosePhone(d.agent.ID)
}

// codedError is an error with a desk error code.
type codedError struct{ code, msg string }

func (e *codedError) Error() string { return e.msg }
func (e *codedError) Code() string  { return e.code }

// phoneCode is the desk error code of a browser phone error, "" if it has none.
func phoneCode(err error) string {
	var c interface{ Code() string }
	if errors.As(err, &c) {
		return c.Code()
	}
	return ""
}
