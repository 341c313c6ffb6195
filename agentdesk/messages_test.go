package agentdesk

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
)

func TestDecodeInbound(t *testing.T) {
	for _, c := range []struct {
		in, code string
	}{
		{`{"type":"ready","ref":"a"}`, ""},
		{`{"type":"not_ready"}`, ""},
		{`{"type":"accept","contact":"2611260000015"}`, ""},
		{`{"type":"wrapup","contact":"2611260000015","request_type":"help","outcome":"resolved","note":"好"}`, ""},
		{`nope`, "bad_message"},
		{`{"type":5}`, "bad_message"},
		{`{}`, "bad_message"},
		{`{"type":"fly"}`, "unknown_type"},
		{`{"type":"accept","contact":"2611260000016"}`, "bad_message"},
		{`{"type":"wrapup","contact":"2611260000015","request_type":"help","outcome":"lunch"}`, "bad_message"},
		{`{"type":"wrapup","contact":"2611260000015","request_type":"rant","outcome":"resolved"}`, "bad_message"},
		{`{"type":"phone","use":"browser"}`, ""},
		{`{"type":"phone","use":"fax"}`, "bad_message"},
		{`{"type":"rtc_offer","sdp":"v=0\r\n"}`, ""},
		{`{"type":"rtc_offer","sdp":""}`, "bad_message"},
		{`{"type":"phone_hold","on":false}`, ""},
		{`{"type":"phone_hold"}`, "bad_message"},
		{`{"type":"phone_dtmf","digit":"*"}`, ""},
		{`{"type":"phone_dtmf","digit":"*#"}`, "bad_message"},
		{`{"type":"wrapup","contact":"2611260000015","request_type":"help"}`, "bad_message"},
		{`{"type":"wrapup","contact":"2611260000015","outcome":"resolved"}`, "bad_message"},
		{`{"type":"monitor","agent":"1001"}`, ""},
		{`{"type":"monitor","contact":"2611260000015"}`, ""},
		{`{"type":"monitor"}`, "bad_message"},
		{`{"type":"monitor","agent":"1001","contact":"2611260000015"}`, "bad_message"},
		{`{"type":"monitor","contact":"2611260000016"}`, "bad_message"},
		{`{"type":"monitor_stop"}`, ""},
	} {
		m, err := decodeInbound([]byte(c.in))
		if c.code == "" {
			require.Nil(t, err, c.in)
			continue
		}
		require.NotNil(t, err, c.in)
		require.Equal(t, c.code, err.code, c.in)
		require.NotEmpty(t, err.msg)
		_ = m
	}
	m, err := decodeInbound([]byte(`{"type":"not_ready"}`))
	require.Nil(t, err)
	require.Equal(t, "busy", m.Reason, "the default reason")
	m, err = decodeInbound([]byte(`{"ref":"r7","type":"accept","contact":"1"}`))
	require.NotNil(t, err)
	require.Equal(t, "r7", m.Ref, "the error can name the message")
}

// FuzzDecodeInbound checks that any bytes from a desk either are refused
// with a protocol error or make a message whose fields the queue can take.
func FuzzDecodeInbound(f *testing.F) {
	for _, s := range []string{`{"type":"ready"}`, `{"type":"accept","contact":"2611260000015","ref":"x"}`,
		`{"type":"wrapup","contact":"2611260000015","request_type":"help","outcome":"resolved","note":"…"}`,
		`{"type":"not_ready","reason":"meal"}`, `{"type":"phone","use":"sip"}`, `{"type":"phone_dtmf","digit":"1"}`,
		`{"type":"phone_mute","on":true}`, `{"type":"rtc_offer","sdp":"v=0\r\n"}`,
		`{"type":"monitor","agent":"1001"}`, `{"type":"monitor","contact":"2611260000015"}`, `{"type":"monitor_stop"}`, `{"type":"renew","token":"x"}`, `[]`, `{"type":"\u0000"}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeInbound(data)
		if err != nil {
			if err.code != "bad_message" && err.code != "unknown_type" {
				t.Fatalf("error code %q", err.code)
			}
			if err.msg == "" {
				t.Fatal("error without a message")
			}
			return
		}
		switch m.Type {
		case "ping", "ready", "logout":
		case "renew":
			if m.Token == "" || len(m.Token) > 64 {
				t.Fatalf("token %q passed", m.Token)
			}
		case "not_ready":
			if m.Reason == "" || utf8.RuneCountInString(m.Reason) > maxReasonRunes {
				t.Fatalf("reason %q passed", m.Reason)
			}
		case "accept", "reject", "end", "wrapup":
			if !queue.ValidTrackingNo(m.Contact) {
				t.Fatalf("contact %q passed", m.Contact)
			}
			if m.Type == "wrapup" && (!queue.RequestType(m.RequestType).Valid() || !queue.Outcome(m.Outcome).Valid() ||
				utf8.RuneCountInString(m.Note) > maxNoteRunes) {
				t.Fatalf("wrapup %+v passed", m)
			}
		case "phone", "rtc_offer", "phone_answer", "phone_hangup", "phone_hold", "phone_mute", "phone_dtmf":
			switch {
			case m.Type == "phone" && m.Use != "browser" && m.Use != "sip",
				m.Type == "rtc_offer" && (len(m.SDP) > maxSDP || !strings.HasPrefix(m.SDP, "v=0")),
				(m.Type == "phone_hold" || m.Type == "phone_mute") && m.On == nil,
				m.Type == "phone_dtmf" && (len(m.Digit) != 1 || !strings.Contains("0123456789*#ABCD", m.Digit)):
				t.Fatalf("%+v passed", m)
			}
		case "monitor":
			if (m.Agent == "") == (m.Contact == "") || len(m.Agent) > maxAgentIDBytes ||
				(m.Contact != "" && !queue.ValidTrackingNo(m.Contact)) {
				t.Fatalf("monitor %+v passed", m)
			}
		case "monitor_stop":
		default:
			t.Fatalf("type %q passed", m.Type)
		}
	})
}
