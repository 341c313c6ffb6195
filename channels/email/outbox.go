package email

import (
	"context"
	"encoding/json"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// maxBackoff caps the wait between two tries of an acknowledgement.
const maxBackoff = 10 * time.Minute

// idlePoll is how often an idle sender looks for acknowledgements that
// other nodes queued or that came due again.
const idlePoll = time.Second

// Outbox is where acknowledgements wait to be sent: durable and shared by
// the nodes, so that one queued by a node that then dies is sent by
// another (queue.Outbox).
type Outbox interface {
	Put(ctx context.Context, payload []byte) (string, error)
	Serve(ctx context.Context, lease, poll time.Duration, wake <-chan struct{}, do func(context.Context, queue.Job))
	Retry(ctx context.Context, id string, wait time.Duration) error
	Done(ctx context.Context, id string) error
}

var _ Outbox = (*queue.Outbox)(nil)

// outbox sends acknowledgements after their letters are durable, in the
// background, retrying with backoff: the SMTP transaction never waits for
// the relay.
type outbox struct {
	s    *Server
	o    Relay
	box  Outbox
	wake chan struct{}
}

func newOutbox(s *Server, o Relay, box Outbox) *outbox {
	return &outbox{s: s, o: o, box: box, wake: make(chan struct{}, 1)}
}

// ack queues an acknowledgement; a failure to queue it is logged (the
// letter itself is already safe).
func (b *outbox) ack(ctx context.Context, m outMail) {
	log := b.s.log.With(zap.String("contact", m.TN))
	if b.s.relay == nil || b.box == nil {
		log.Info("no acknowledgement sent: no outbound relay is configured")
		return
	}
	payload, err := json.Marshal(m)
	if err == nil {
		_, err = b.box.Put(ctx, payload)
	}
	if err != nil {
		log.Error("acknowledgement not queued", zap.Error(err))
		return
	}
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// lease is how long a claimed acknowledgement is ours: one try of the relay
// and recording it, with room to spare.
func (b *outbox) lease() time.Duration { return 2*b.o.Timeout + time.Minute }

// run sends acknowledgements with Relay.Workers workers until ctx ends.
func (b *outbox) run(ctx context.Context) error {
	if b.s.relay == nil || b.box == nil {
		<-ctx.Done()
		return nil
	}
	done := make(chan struct{})
	for range b.o.Workers {
		go func() {
			defer func() { done <- struct{}{} }()
			b.work(ctx)
		}()
	}
	for range b.o.Workers {
		<-done
	}
	return nil
}

func (b *outbox) work(ctx context.Context) {
	b.box.Serve(ctx, b.lease(), idlePoll, b.wake, b.send)
}

// send tries one acknowledgement once; on a temporary failure it is tried
// again later, up to AckAttempts tries, then recorded in the contact.
func (b *outbox) send(ctx context.Context, j queue.Job) {
	// A try under way finishes (within Relay.Timeout) even when ctx ends, so
	// that a message the relay took is recorded as sent.
	ctx = context.WithoutCancel(ctx)
	var m outMail
	if err := json.Unmarshal(j.Payload, &m); err != nil {
		b.s.log.Error("bad acknowledgement in the outbox; dropped", zap.String("job", j.ID), zap.Error(err))
		_ = b.box.Done(ctx, j.ID)
		return
	}
	log := b.s.log.With(zap.String("contact", m.TN), zap.String("to", channels.MaskEmail(m.To)), zap.Int("try", j.Tries))
	msg, err := b.s.compose(m)
	if err == nil {
		err = b.s.relay.send(ctx, m.To, msg)
	}
	if err != nil && !permanent(err) && j.Tries < b.o.AckAttempts {
		wait := min(b.o.AckBackoff<<min(j.Tries-1, 20), maxBackoff)
		log.Info("acknowledgement not sent yet; will retry", zap.Duration("in", wait), zap.Error(err))
		if rerr := b.box.Retry(ctx, j.ID, wait); rerr != nil {
			log.Warn("acknowledgement retry not scheduled; it comes back when its lease ends", zap.Error(rerr))
		}
		return
	}
	status := "sent"
	if err != nil {
		status = "failed"
		log.Warn("acknowledgement not sent", zap.Error(err))
	} else {
		log.Info("acknowledgement sent")
	}
	rctx, cancel := context.WithTimeout(ctx, b.o.Timeout)
	defer cancel()
	if err := b.s.q.AddMessage(rctx, m.TN, queue.Message{From: queue.FromSystem, Kind: "text", Text: m.Body,
		Status: status}); err != nil {
		log.Warn("acknowledgement not recorded in the contact", zap.Error(err))
	}
	if err := b.box.Done(rctx, j.ID); err != nil {
		log.Warn("acknowledgement not cleared from the outbox; it may be sent twice", zap.Error(err))
	}
}
