package channels

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/lianxin/lianxin/queue"
)

// Receiver is what the intake path needs of the queue.
type Receiver interface {
	Enqueue(ctx context.Context, in queue.Intake, idemKey string) (queue.Receipt, error)
	Receive(ctx context.Context, in queue.Intake, idemKey string) (queue.Receipt, error)
}

// Request is one citizen's message as a channel hands it to Take.
type Request struct {
	In queue.Intake
	// Key is the idempotency key: the provider and its message id, or the
	// Idempotency-Key a web form sent. "" for none.
	Key string
	// Conversation: the channel answers the citizen in a conversation
	// (SMS, WeChat, e-mail), so a message from a citizen with an open
	// contact on the same channel and line joins it (queue.Receive); else
	// every request is a contact of its own (queue.Enqueue).
	Conversation bool
	// ProviderKey: Key is a provider's message id. A provider that reuses
	// an id for another message (other content, or another sender) sent
	// another message, which is taken under the id and the message's hash
	// (queue.IntakeHash). Otherwise (a client's
	// Idempotency-Key) a reused key with other content is refused:
	// Take returns queue.ErrIdempotencyConflict and the first's receipt.
	ProviderKey bool
}

// Taken is what became of a request.
type Taken struct {
	queue.Receipt
	// Emergency is the triage's kind of emergency ("" for none): the
	// contact went in at EmergencyPriority with its alert.
	Emergency string
	// Ack is what the citizen is told: the tracking number (or, for a
	// message that joined an open contact, that it was added), after the
	// emergency advice when there is one. A duplicate gets the same text;
	// whether to send it again is the channel's choice.
	Ack string
}

// alertRunes bounds the alert's line of text.
const alertRunes = 200

// Take is the one intake path of every channel: triage (the request type
// when the channel has none, the emergency priority), the emergency alert
// carried in the intake and raised by the queue's script with the contact,
// exactly once (never for a duplicate), idempotency and the rule for a
// reused key, and the acknowledgement's text. The channel maps the error
// at its edge: queue.ErrInvalid is the sender's fault (HTTP 400, SMTP 554);
// queue.ErrIdempotencyConflict a reused client key (HTTP 409); anything
// else may work later (HTTP 503, SMTP 451, SMPP 0x64, SIP 503).
func Take(ctx context.Context, q Receiver, r Request) (Taken, error) {
	in := r.In
	t := Assess(firstText(in))
	if in.RequestType == "" {
		in.RequestType = t.RequestType
	}
	if t.Emergency != "" {
		in.Priority = max(in.Priority, EmergencyPriority)
		in.Emergency = t.Emergency
		in.Alert = &queue.Alert{Kind: t.Emergency, Text: cutRunes(firstText(in), alertRunes)}
	}
	take := q.Enqueue
	if r.Conversation {
		take = q.Receive
	}
	rc, err := take(ctx, in, r.Key)
	if errors.Is(err, queue.ErrIdempotencyConflict) && r.ProviderKey {
		rc, err = take(ctx, in, r.Key+":sha256:"+queue.IntakeHash(in))
	}
	out := Taken{Receipt: rc, Emergency: t.Emergency}
	if err != nil {
		return out, err
	}
	out.Ack = Ack(rc.TrackingNo)
	if rc.Joined {
		out.Ack = JoinedAck(rc.TrackingNo)
	}
	if t.Emergency != "" {
		out.Ack = EmergencyAdvice(t.Emergency) + out.Ack
	}
	return out, nil
}

// JoinedAck tells a citizen that a message was added to an open contact:
// every channel that answers such a message (SMS, WeChat, e-mail) says this.
func JoinedAck(trackingNo string) string {
	return "已收到，已补充到您的诉求（受理编号 " + trackingNo + "）。【12345】"
}

// firstText is what triage reads and the alert's text: the subject and the
// text (the text alone when the subject is its first line, as channels
// without a subject make it).
func firstText(in queue.Intake) string {
	if in.Subject == "" || strings.HasPrefix(in.Text, strings.TrimSuffix(in.Subject, "…")) {
		return in.Text
	}
	return in.Subject + "\n" + in.Text
}

func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
