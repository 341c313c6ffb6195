package agentdesk

import (
	"time"

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
}

// maxNoteRunes bounds a wrap-up note.
const maxNoteRunes = 2000

type helloMsg struct {
	Type       string    `json:"type"` // "hello"
	Agent      agentInfo `json:"agent"`
	Node       string    `json:"node"`
	ServerTime time.Time `json:"server_time"`
}

type stateMsg struct {
	Type string `json:"type"` // "state"
	queue.AgentStatus
}

// deskContact is the contact object the desk shows.
type deskContact struct {
	*queue.Contact
	History []queue.Summary `json:"history"`
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
