package agentdesk

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// recPhone is a Softphone that records what the desk asked of it.
type recPhone struct {
	mu     sync.Mutex
	calls  []string
	notify func(any)
	fail   error
}

func (p *recPhone) rec(s string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, s)
	return p.fail
}

func (p *recPhone) log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}

func (p *recPhone) OpenPhone(_ context.Context, agent string, notify func(any)) error {
	p.mu.Lock()
	p.notify = notify
	p.mu.Unlock()
	return p.rec("open " + agent)
}
func (p *recPhone) ClosePhone(agent string) { _ = p.rec("close " + agent) }
func (p *recPhone) LeavePhone(agent string) { _ = p.rec("leave " + agent) }
func (p *recPhone) PhoneOffer(_ context.Context, agent, sdp string) (string, error) {
	return "v=0 answer", p.rec("offer " + agent + " " + sdp)
}
func (p *recPhone) PhoneAnswer(_ context.Context, agent string) error {
	return p.rec("answer " + agent)
}
func (p *recPhone) PhoneHangup(_ context.Context, agent string) error {
	return p.rec("hangup " + agent)
}
func (p *recPhone) PhoneHold(_ context.Context, agent string, on bool) error {
	return p.rec(fmt.Sprintf("hold %s %v", agent, on))
}
func (p *recPhone) PhoneMute(_ context.Context, agent string, on bool) error {
	return p.rec(fmt.Sprintf("mute %s %v", agent, on))
}
func (p *recPhone) PhoneDigit(_ context.Context, agent string, d rune) error {
	return p.rec(fmt.Sprintf("dtmf %s %c", agent, d))
}

type phoneErr struct{}

func (phoneErr) Error() string { return "no call on the browser phone" }
func (phoneErr) Code() string  { return "no_call" }

// Each browser phone message that is malformed gets an error naming the field, and the phone is not touched.
func TestPhoneMessagesBad(t *testing.T) {
	ph := &recPhone{}
	e := startDesk(t, func(p *Params) { p.Softphone = ph })
	c := e.seat(t, "1001")
	for _, bad := range []struct{ msg, field string }{
		{`{"type":"phone","ref":"r"}`, "use:"},
		{`{"type":"phone","use":"carrier-pigeon","ref":"r"}`, "use:"},
		{`{"type":"rtc_offer","ref":"r"}`, "sdp:"},
		{`{"type":"rtc_offer","sdp":"hello","ref":"r"}`, "sdp:"},
		{`{"type":"rtc_offer","sdp":"v=0` + strings.Repeat("a", maxSDP) + `","ref":"r"}`, "sdp:"},
		{`{"type":"phone_hold","ref":"r"}`, "on:"},
		{`{"type":"phone_mute","on":"yes","ref":"r"}`, "bad_message"},
		{`{"type":"phone_mute","ref":"r"}`, "on:"},
		{`{"type":"phone_dtmf","ref":"r"}`, "digit:"},
		{`{"type":"phone_dtmf","digit":"55","ref":"r"}`, "digit:"},
		{`{"type":"phone_dtmf","digit":"x","ref":"r"}`, "digit:"},
	} {
		require.NoError(t, c.SendRaw([]byte(bad.msg)))
		m := next(t, c, "error")
		require.Equal(t, "bad_message", m.Code, bad.msg)
		require.Equal(t, "r", m.Ref, bad.msg)
		if bad.field != "bad_message" {
			require.True(t, strings.HasPrefix(m.Message, bad.field), "%s: error %q names the field", bad.msg, m.Message)
		}
	}
	require.Empty(t, ph.log(), "no bad message reached the phone")
}

// Good phone messages reach the Softphone with their fields; the offer is answered with rtc_answer, the others
// acked; a refusal's code reaches the desk; the phone's messages reach the page; the desk going closes the phone.
func TestPhoneMessagesDispatch(t *testing.T) {
	ph := &recPhone{}
	e := startDesk(t, func(p *Params) { p.Softphone = ph })
	c := e.seat(t, "1001")
	send := func(typ string, f map[string]any) desktestMsg {
		ref, err := c.Send(typ, f)
		require.NoError(t, err)
		m := next(t, c, "ack", "error", "rtc_answer")
		for m.Ref != ref {
			m = next(t, c, "ack", "error", "rtc_answer")
		}
		return desktestMsg{Type: m.Type, Code: m.Code, Raw: m.Raw}
	}
	require.Equal(t, "ack", send("phone", map[string]any{"use": "browser"}).Type)
	m := send("rtc_offer", map[string]any{"sdp": "v=0 offer"})
	require.Equal(t, "rtc_answer", m.Type)
	var ans struct{ SDP string }
	require.NoError(t, json.Unmarshal(m.Raw, &ans))
	require.Equal(t, "v=0 answer", ans.SDP)
	require.Equal(t, "ack", send("phone_answer", nil).Type)
	require.Equal(t, "ack", send("phone_hold", map[string]any{"on": true}).Type)
	require.Equal(t, "ack", send("phone_mute", map[string]any{"on": false}).Type)
	require.Equal(t, "ack", send("phone_dtmf", map[string]any{"digit": "#"}).Type)
	require.Equal(t, "ack", send("phone_hangup", nil).Type)
	ph.mu.Lock()
	ph.fail = phoneErr{}
	notify := ph.notify
	ph.mu.Unlock()
	m = send("phone_answer", nil)
	require.Equal(t, "error", m.Type)
	require.Equal(t, "no_call", m.Code)

	notify(map[string]any{"type": "phone_call", "state": "ringing", "contact": "x"})
	require.Equal(t, "ringing", next(t, c, "phone_call").State)

	require.Equal(t, []string{"open 1001", "offer 1001 v=0 offer", "answer 1001", "hold 1001 true", "mute 1001 false",
		"dtmf 1001 #", "hangup 1001", "answer 1001"}, ph.log())
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool {
		l := ph.log()
		return l[len(l)-1] == "leave 1001"
	}, 30e9, 20e6, "the desk gone, the phone is left (for the desk to come back)")
}

type desktestMsg struct {
	Type, Code string
	Raw        json.RawMessage
}

// Without a softphone the phone messages are refused with no_softphone.
func TestPhoneMessagesWithoutSoftphone(t *testing.T) {
	e := startDesk(t)
	c := e.seat(t, "1001")
	ref, err := c.Send("phone", map[string]any{"use": "browser"})
	require.NoError(t, err)
	m := next(t, c, "error")
	require.Equal(t, ref, m.Ref)
	require.Equal(t, "no_softphone", m.Code)
}
