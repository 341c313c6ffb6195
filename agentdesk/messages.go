package agentdesk

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lianxin/lianxin/hottopic"
	"github.com/lianxin/lianxin/queue"
)

// inbound is any message from a desk; which fields matter depends on Type.
type inbound struct {
	Type        string `json:"type"`
	Ref         string `json:"ref,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Contact     string `json:"contact,omitempty"`
	RequestType string `json:"request_type,omitempty"`
	Outcome     string `json:"outcome,omitempty"`
	Note        string `json:"note,omitempty"`
	Text        string `json:"text,omitempty"`
	// The browser phone's (phone.go).
	Use   string `json:"use,omitempty"`
	SDP   string `json:"sdp,omitempty"`
	On    *bool  `json:"on,omitempty"`
	Digit string `json:"digit,omitempty"`
	// Agent is the agent a supervisor's message is about; ID an alert's id.
	Agent string `json:"agent,omitempty"`
	ID    string `json:"id,omitempty"`
	// transfer: to (queue, agent, 110, 119, 120, 122), queue or agent, mode.
	To    string `json:"to,omitempty"`
	Queue string `json:"queue,omitempty"`
	Mode  string `json:"mode,omitempty"`
	Line  string `json:"line,omitempty"` // hot_topic_publish
	// Group is a common problem's id (hot_topic_publish: its answer).
	Group string `json:"group,omitempty"`
	// Token is a new login's token (renew).
	Token string `json:"token,omitempty"`
}

// maxNoteRunes bounds a wrap-up note; maxReasonRunes a not-ready reason.
const (
	maxNoteRunes   = 2000
	maxReasonRunes = 64
)

// protocolError is a desk message refused before anything was done.
type protocolError struct{ code, msg string }

// decodeInbound parses and checks one desk message: JSON, a known type, and
// the fields that type needs. The returned message carries Ref whenever the
// JSON had one, so the error can name it.
func decodeInbound(data []byte) (inbound, *protocolError) {
	var m inbound
	if err := json.Unmarshal(data, &m); err != nil {
		var probe struct {
			Ref string `json:"ref"`
		}
		_ = json.Unmarshal(data, &probe)
		return inbound{Ref: probe.Ref}, &protocolError{"bad_message", "not a JSON object of the desk protocol: " + err.Error()}
	}
	bad := func(msg string) (inbound, *protocolError) { return m, &protocolError{"bad_message", msg} }
	switch m.Type {
	case "ping", "ready", "logout":
	case "renew":
		if m.Token == "" || len(m.Token) > 64 {
			return bad("token: the token of a new login (POST /api/login), at most 64 bytes")
		}
	case "not_ready":
		if m.Reason == "" {
			m.Reason = "busy"
		}
		if utf8.RuneCountInString(m.Reason) > maxReasonRunes {
			return bad("reason: at most 64 characters")
		}
	case "reply":
		if !queue.ValidTrackingNo(m.Contact) {
			return bad("contact: must be a tracking number")
		}
		n := utf8.RuneCountInString(strings.TrimSpace(m.Text))
		if n == 0 || n > maxNoteRunes {
			return bad("text: 1 to 2000 characters")
		}
	case "accept", "reject", "end", "wrapup":
		if !queue.ValidTrackingNo(m.Contact) {
			return bad("contact: must be a tracking number")
		}
		if m.Type != "wrapup" {
			break
		}
		// Nothing is assumed: the agent chooses both (the desk offers no
		// default).
		if m.RequestType == "" {
			return bad("request_type: required: the agent must choose one")
		}
		if m.Outcome == "" {
			return bad("outcome: required: the agent must choose one")
		}
		if !queue.RequestType(m.RequestType).Valid() {
			return bad("request_type: must be one of consultation, help, complaint, report, suggestion, praise, other")
		}
		if !queue.Outcome(m.Outcome).Valid() {
			return bad("outcome: must be one of resolved, dispatched, transferred_110, transferred_119, transferred_120, " +
				"transferred_122, invalid, duplicate")
		}
		if utf8.RuneCountInString(m.Note) > maxNoteRunes {
			return bad("note: at most 2000 characters")
		}
	case "force_not_ready", "force_logout":
		if m.Agent == "" {
			return bad("agent: required (the agent's id)")
		}
		if len(m.Agent) > maxAgentIDBytes {
			return bad("agent: at most 64 bytes")
		}
		if m.Type == "force_not_ready" {
			if m.Reason == "" {
				m.Reason = "supervisor"
			}
			if utf8.RuneCountInString(m.Reason) > maxReasonRunes {
				return bad("reason: at most 64 characters")
			}
		}
	case "reassign":
		if !queue.ValidTrackingNo(m.Contact) {
			return bad("contact: must be a tracking number")
		}
	case "alert_ack":
		if !validStreamID(m.ID) {
			return bad("id: must be an alert's id (as in alerts, e.g. 1764547200000-0)")
		}
	case "transfer":
		if perr := checkTransfer(&m); perr != nil {
			return m, perr
		}
	case "hot_topic_publish":
		if m.Group != "" && !validGroupID(m.Group) {
			return bad("group: a common problem's id, as /api/clusters lists it (e.g. c17)")
		}
		if m.Group == "" || m.Line != "" || m.Text != "" {
			// With a group, line and text may be left out (defaults).
			line, text := m.Line, m.Text
			if m.Group != "" && line == "" {
				line = "*"
			}
			if m.Group != "" && text == "" {
				text = "-"
			}
			if err := hottopic.Check(line, text); err != nil {
				field := "text: "
				if hottopic.Check(line, "热点") != nil {
					field = "line: "
				}
				return bad(field + err.Error())
			}
		}
	case "monitor":
		if perr := checkMonitor(&m); perr != nil {
			return m, perr
		}
	case "monitor_stop":
	case "hot_topic_withdraw":
		if m.ID == "" || len(m.ID) > 64 {
			return bad("id: the id of a published hot topic")
		}
	case "":
		return bad("type: required")
	case "phone", "rtc_offer", "phone_answer", "phone_hangup", "phone_hold", "phone_mute", "phone_dtmf":
		if _, perr := decodePhone(&m); perr != nil {
			return m, perr
		}
	default:
		t := m.Type
		if utf8.RuneCountInString(t) > 40 {
			t = string([]rune(t)[:40]) + "…"
		}
		return m, &protocolError{"unknown_type", "unknown message type " + strconvQuote(t)}
	}
	return m, nil
}

type helloMsg struct {
	Type       string    `json:"type"` // "hello"
	Agent      agentInfo `json:"agent"`
	Node       string    `json:"node"`
	ServerTime time.Time `json:"server_time"`
	// Channels lists every channel a contact may come by (queue.Channels).
	Channels []queue.Channel `json:"channels"`
	// LoginExpiresAt is when the desk's login runs out (the desk's only).
	LoginExpiresAt *time.Time `json:"login_expires_at,omitempty"`
	// RenewWarning: the page offers to renew the login this many seconds
	// before it runs out (auth.renew_warning); given with LoginExpiresAt.
	RenewWarning int `json:"renew_warning_seconds,omitempty"`
}

// renewedMsg answers renew: the desk now runs on the new login.
type renewedMsg struct {
	Type           string    `json:"type"` // "renewed"
	Ref            string    `json:"ref,omitempty"`
	ServerTime     time.Time `json:"server_time"`
	LoginExpiresAt time.Time `json:"login_expires_at"`
}

type stateMsg struct {
	Type string `json:"type"` // "state"
	queue.AgentStatus
}

type messageMsg struct {
	Type    string        `json:"type"` // "message"
	Contact string        `json:"contact"`
	Message queue.Message `json:"message"`
}

type alertMsg struct {
	Type    string `json:"type"` // "alert"
	Contact string `json:"contact"`
	Kind    string `json:"kind"`
	Text    string `json:"text"`
}

type offerMsg struct {
	Type      string      `json:"type"` // "offer"
	Contact   deskContact `json:"contact"`
	ExpiresAt time.Time   `json:"expires_at"`
}

type assignedMsg struct {
	Type    string      `json:"type"` // "assigned"
	Contact deskContact `json:"contact"`
}

type rescindedMsg struct {
	Type    string `json:"type"` // "rescinded"
	Contact string `json:"contact"`
	Reason  string `json:"reason"`
}

// requeuedMsg: a call in talk went back to its queue at its old place (the browser phone lost it; the reason is
// also the agent's not-ready reason).
type requeuedMsg struct {
	Type    string `json:"type"` // "requeued"
	Contact string `json:"contact"`
	Reason  string `json:"reason"` // media_lost, desk_lost, shutdown
}

type endedMsg struct {
	Type    string `json:"type"` // "ended"
	Contact string `json:"contact"`
	Reason  string `json:"reason,omitempty"` // who ended it: agent, caller, media_timeout, node_lost, …
}

type closedMsg struct {
	Type    string        `json:"type"` // "closed"
	Contact string        `json:"contact"`
	Outcome queue.Outcome `json:"outcome"`
}

type ackMsg struct {
	Type string `json:"type"` // "ack"
	Ref  string `json:"ref,omitempty"`
	For  string `json:"for"`
}

type pongMsg struct {
	Type string `json:"type"` // "pong"
	Ref  string `json:"ref,omitempty"`
}

type errorMsg struct {
	Type    string `json:"type"` // "error"
	Code    string `json:"code"`
	Message string `json:"message"`
	Ref     string `json:"ref,omitempty"`
}

// validStreamID says whether s looks like a stream id: digits, '-', digits.
func validStreamID(s string) bool {
	ms, seq, ok := strings.Cut(s, "-")
	return ok && len(s) <= 41 && isDigits(ms) && isDigits(seq)
}
