package linkage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// OutboxName is the durable outbox of pushes to the lines' webhooks.
const OutboxName = "linkage-pushes"

// Push is the JSON body a line's webhook receives for a contact transferred
// to it. The same push retried carries the same ID; the line acknowledges
// it with any 2xx status.
type Push struct {
	// ID is "<tracking number>:<line>".
	ID         string `json:"id"`
	TrackingNo string `json:"tracking_no"`
	// To is the line: 110, 119, 120 or 122.
	To string `json:"to"`
	// Line is the 12345 line the citizen reached (12345, 12315, a mailbox).
	Line     string        `json:"line"`
	LineName string        `json:"line_name,omitempty"`
	Channel  queue.Channel `json:"channel"`
	// Caller is the citizen's phone number (E.164), when known.
	Caller   string          `json:"caller,omitempty"`
	Citizen  queue.Citizen   `json:"citizen"`
	Location *queue.Location `json:"location,omitempty"`
	Subject  string          `json:"subject,omitempty"`
	// Note is the 12345 agent's note.
	Note  string `json:"note,omitempty"`
	Agent string `json:"agent,omitempty"`
	// Words are what the citizen said so far: the first text and the
	// conversation's messages from the citizen.
	Words []Words `json:"words,omitempty"`
	// Target is the SIP URI a call was bridged to ("" for a text contact).
	Target     string    `json:"target,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	SentAt     time.Time `json:"sent_at"`
}

// Words is one thing the citizen said.
type Words struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

type job struct {
	TrackingNo string `json:"tracking_no"`
	To         string `json:"to"`
	Target     string `json:"target,omitempty"`
}

// Pusher sends transferred contacts to the lines' webhooks from the
// durable outbox, retrying until each is acknowledged, and keeps each
// push's status on its contact (Contact.Transfer).
type Pusher struct {
	q       *queue.Queue
	box     *queue.Outbox
	targets map[string]Target
	client  *http.Client
	log     *zap.Logger
	wake    chan struct{}
	// RetryBase is the first retry's wait, doubled each time up to
	// RetryMax.
	retryBase, retryMax time.Duration
	now                 func() time.Time
}

// PusherOption changes a Pusher.
type PusherOption func(*Pusher)

// WithHTTPClient sets the client the webhooks are called with (default: 10 s
// timeout).
func WithHTTPClient(c *http.Client) PusherOption { return func(p *Pusher) { p.client = c } }

// WithRetry sets the first retry's wait and the longest (default 2 s, 5 min).
func WithRetry(base, max time.Duration) PusherOption {
	return func(p *Pusher) { p.retryBase, p.retryMax = base, max }
}

// NewPusher makes a Pusher for targets (by line: "110", "120", …).
func NewPusher(q *queue.Queue, targets map[string]Target, log *zap.Logger, opts ...PusherOption) *Pusher {
	if log == nil {
		log = zap.NewNop()
	}
	p := &Pusher{q: q, box: q.Outbox(OutboxName), targets: targets, client: &http.Client{Timeout: 10 * time.Second},
		log: log, wake: make(chan struct{}, 1), retryBase: 2 * time.Second, retryMax: 5 * time.Minute, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	return p
}

// ErrNoTarget is a transfer to a line that is not configured.
var ErrNoTarget = errors.New("linkage: line not configured")

// Target returns the configured target of line to.
func (p *Pusher) Target(to string) (Target, bool) {
	t, ok := p.targets[to]
	return t, ok && IsLine(to)
}

// Transfer records that contact tn went to line to (target: the SIP URI a
// call was bridged to) and queues the push of its data. A second Transfer
// of the same contact pushes nothing more.
func (p *Pusher) Transfer(ctx context.Context, tn, to, target string) error {
	if _, ok := p.Target(to); !ok {
		return fmt.Errorf("%w: %q", ErrNoTarget, to)
	}
	first, err := p.q.MarkTransfer(ctx, tn, to, target)
	if err != nil || !first {
		return err
	}
	b, _ := json.Marshal(job{TrackingNo: tn, To: to, Target: target})
	if _, err := p.box.Put(ctx, b); err != nil {
		return err
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run sends due pushes until ctx ends.
func (p *Pusher) Run(ctx context.Context) error {
	p.box.Serve(ctx, time.Minute, time.Second, p.wake, p.send)
	return nil
}

// send makes one attempt at one push.
func (p *Pusher) send(ctx context.Context, j queue.Job) {
	var jb job
	if err := json.Unmarshal(j.Payload, &jb); err != nil {
		p.log.Error("bad push job dropped", zap.String("job", j.ID), zap.Error(err))
		_ = p.box.Done(ctx, j.ID)
		return
	}
	log := p.log.With(zap.String("contact", jb.TrackingNo), zap.String("to", jb.To), zap.Int("try", j.Tries))
	t, ok := p.Target(jb.To)
	if !ok || t.Webhook == "" {
		log.Error("push given up: the line has no webhook configured")
		_ = p.q.SetTransferStatus(ctx, jb.TrackingNo, queue.TransferFailed, j.Tries, "no webhook configured")
		_ = p.box.Done(ctx, j.ID)
		return
	}
	body, err := p.body(ctx, jb)
	if errors.Is(err, queue.ErrNotFound) {
		log.Error("push given up: no such contact")
		_ = p.box.Done(ctx, j.ID)
		return
	}
	if err == nil {
		err = p.post(ctx, t, body)
	}
	if err == nil {
		if err := p.q.SetTransferStatus(ctx, jb.TrackingNo, queue.TransferDelivered, j.Tries, ""); err != nil {
			log.Warn("push delivered; its status not recorded", zap.Error(err))
		}
		if err := p.box.Done(ctx, j.ID); err != nil {
			log.Warn("push delivered; the job stays and may be sent again", zap.Error(err))
		}
		log.Info("push delivered")
		return
	}
	wait := p.retryBase << min(j.Tries-1, 20)
	if wait > p.retryMax || wait <= 0 {
		wait = p.retryMax
	}
	log.Warn("push not acknowledged; retrying", zap.Duration("in", wait), zap.Error(err))
	_ = p.q.SetTransferStatus(ctx, jb.TrackingNo, queue.TransferRetrying, j.Tries, err.Error())
	if err := p.box.Retry(ctx, j.ID, wait); err != nil {
		log.Warn("push retry not scheduled; it comes due when its lease ends", zap.Error(err))
	}
}

// body builds the push's JSON from the contact as it is now.
func (p *Pusher) body(ctx context.Context, jb job) ([]byte, error) {
	c, err := p.q.Contact(ctx, jb.TrackingNo)
	if err != nil {
		return nil, err
	}
	push := Push{ID: jb.TrackingNo + ":" + jb.To, TrackingNo: c.TrackingNo, To: jb.To, Line: c.Line, LineName: c.LineName,
		Channel: c.Channel, Caller: c.Citizen.Phone, Citizen: c.Citizen, Location: c.Location, Subject: c.Subject,
		Note: c.Note, Agent: c.Agent, Target: jb.Target, ReceivedAt: c.ReceivedAt.UTC(), SentAt: p.now().UTC()}
	if push.Agent == "" {
		push.Agent = c.TransferredBy
	}
	if t := channels.Clean(c.Text); t != "" {
		push.Words = append(push.Words, Words{At: c.ReceivedAt.UTC(), Text: t})
	}
	if c.MessageCount > 0 {
		msgs, err := p.q.Messages(ctx, c.TrackingNo)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.From != queue.FromAgent && m.Text != "" {
				push.Words = append(push.Words, Words{At: m.At.UTC(), Text: m.Text})
			}
		}
	}
	return json.Marshal(push)
}

func (p *Pusher) post(ctx context.Context, t Target, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.Webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	SignRequest(req.Header, []byte(t.Secret), p.now(), body)
	res, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", res.Status)
	}
	return nil
}

// Configured reports whether line to has a target to transfer to.
func (p *Pusher) Configured(to string) bool {
	t, ok := p.Target(to)
	return ok && (t.URI != "" || t.Webhook != "")
}
