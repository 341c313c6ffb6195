package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Who wrote a message.
const (
	FromCitizen = "citizen"
	FromAgent   = "agent"
	FromSystem  = "system"
)

// Message is one message of a contact's conversation after its first intake:
// a citizen writing again on a conversational channel, an agent's reply, a
// note from the system.
type Message struct {
	// ID is the provider's message id, if any.
	ID    string `json:"id,omitempty"`
	From  string `json:"from"`
	Agent string `json:"agent,omitempty"`
	// Kind: text, image, voice, video, location, link, event.
	Kind        string       `json:"kind,omitempty"`
	Text        string       `json:"text,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	Location    *Location    `json:"location,omitempty"`
	// Status of an outgoing message (sent, delivered, failed), when known.
	Status string    `json:"status,omitempty"`
	At     time.Time `json:"at"`
}

// Receive takes a citizen's message on a conversational channel (SMS,
// WeChat, e-mail): while the citizen has an open contact on the same channel
// and line, the message joins it (Receipt.Joined, and the desk holding it is
// told); otherwise it starts a new contact, as Enqueue does. idemKey works
// as for Enqueue. The intake's Citizen.Address identifies the citizen.
func (q *Queue) Receive(ctx context.Context, in Intake, idemKey string) (Receipt, error) {
	def, err := q.check(&in)
	if err != nil {
		return Receipt{}, err
	}
	if in.Citizen.Address == "" {
		return Receipt{}, fmt.Errorf("%w: a conversation needs the citizen's address", ErrInvalid)
	}
	now := q.o.Now()
	if in.ReceivedAt.IsZero() {
		in.ReceivedAt = now
	}
	data, err := json.Marshal(in)
	if err != nil {
		return Receipt{}, fmt.Errorf("queue: encode intake: %w", err)
	}
	msg, err := json.Marshal(Message{From: FromCitizen, Kind: "text", Text: in.Text, Attachments: in.Attachments,
		Location: in.Location, At: in.ReceivedAt})
	if err != nil {
		return Receipt{}, fmt.Errorf("queue: encode message: %w", err)
	}
	prio := max(def.Priority, in.Priority)
	ms := now.UnixMilli()
	open := strings.Join([]string{string(in.Channel), in.Line, in.Citizen.Address}, ":")
	date, floor := q.seqFloor(now)
	kind, text := alertArgs(in)
	res, err := q.acked(ctx, q.s.receive, idemKey, IntakeHash(in), data, in.Queue, string(in.Channel), prio,
		int64(9-prio)*1e13+ms, ms, date, historyKey(in), open, msg, floor, kind, text).StringSlice()
	if err != nil {
		return Receipt{}, fmt.Errorf("queue: receive: %w", err)
	}
	q.issued(res[0])
	r := Receipt{TrackingNo: res[0], Duplicate: res[1] == "duplicate" || res[1] == "conflict", Joined: res[1] == "joined"}
	if res[1] == "conflict" {
		return r, ErrIdempotencyConflict
	}
	return r, nil
}

// AddMessage appends m to a contact's conversation and tells the desk of the
// agent holding it.
func (q *Queue) AddMessage(ctx context.Context, tn string, m Message) error {
	if m.At.IsZero() {
		m.At = q.o.Now()
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("queue: encode message: %w", err)
	}
	return scriptError(q.once(ctx, q.s.message, tn, b, m.At.UnixMilli()).Err())
}

// Messages returns a contact's conversation after its first intake, oldest
// first (the last 500).
func (q *Queue) Messages(ctx context.Context, tn string) ([]Message, error) {
	raw, err := q.rdb.LRange(ctx, q.key("m", tn), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: messages of %s: %w", tn, err)
	}
	out := make([]Message, 0, len(raw))
	for _, r := range raw {
		var m Message
		if err := json.Unmarshal([]byte(r), &m); err != nil {
			return nil, fmt.Errorf("queue: messages of %s: %w", tn, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Alert tells supervisors of an emergency in a contact (kind: fire, medical,
// police, gas, …) through the event stream. An emergency in an intake is
// raised with it (Intake.Alert), once; Alert is for an emergency found
// later.
func (q *Queue) Alert(ctx context.Context, tn, kind, text string) error {
	err := q.rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.key("events"), MaxLen: q.o.EventsMaxLen, Approx: q.o.EventsMaxLen > 0,
		Values: []string{"type", string(EventAlert), "contact", tn, "reason", kind, "text", text}}).Err()
	if err != nil {
		return fmt.Errorf("queue: alert: %w", err)
	}
	return nil
}
