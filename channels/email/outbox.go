package email

import (
	"context"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// maxBackoff caps the wait between two tries of an acknowledgement.
const maxBackoff = 10 * time.Minute

// outbox sends acknowledgements after their letters are durable, in the
// background, retrying with backoff: the SMTP transaction never waits for
// the relay. It lives in memory: acknowledgements still waiting when the
// node stops are logged and lost (the contact itself is safe).
type outbox struct {
	s    *Server
	o    Relay
	jobs chan outMail
}

func newOutbox(s *Server, o Relay) *outbox {
	return &outbox{s: s, o: o, jobs: make(chan outMail, o.AckQueue)}
}

// ack queues an acknowledgement without ever blocking.
func (b *outbox) ack(m outMail) {
	log := b.s.log.With(zap.String("contact", m.TN))
	if b.s.relay == nil {
		log.Info("no acknowledgement sent: no outbound relay is configured")
		return
	}
	select {
	case b.jobs <- m:
	default:
		log.Error("acknowledgement dropped: too many waiting to be sent", zap.Int("ack_queue", b.o.AckQueue))
	}
}

// run sends acknowledgements with Relay.Workers workers until ctx ends.
func (b *outbox) run(ctx context.Context) error {
	done := make(chan struct{})
	for range b.o.Workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-b.jobs:
					b.send(ctx, m)
				}
			}
		}()
	}
	for range b.o.Workers {
		<-done
	}
	if n := len(b.jobs); n > 0 {
		b.s.log.Warn("acknowledgements not sent at shutdown", zap.Int("count", n))
	}
	return nil
}

// send tries one acknowledgement up to AckAttempts times, then records in
// the contact whether it went out.
func (b *outbox) send(ctx context.Context, m outMail) {
	log := b.s.log.With(zap.String("contact", m.TN), zap.String("to", channels.MaskEmail(m.To)))
	msg, err := b.s.compose(m)
	wait := b.o.AckBackoff
	for try := 1; msg != nil; try++ {
		// A try under way finishes (within Relay.Timeout) even when ctx ends,
		// so that a message the relay took is recorded as sent.
		if err = b.s.relay.send(context.WithoutCancel(ctx), m.To, msg); err == nil || permanent(err) || try >= b.o.AckAttempts {
			break
		}
		log.Info("acknowledgement not sent yet; will retry", zap.Int("try", try), zap.Duration("in", wait), zap.Error(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			log.Warn("acknowledgement not sent: shutting down", zap.Error(err))
			return
		case <-t.C:
		}
		wait = min(2*wait, maxBackoff)
	}
	status := "sent"
	if err != nil {
		status = "failed"
		log.Warn("acknowledgement not sent", zap.Error(err))
	} else {
		log.Info("acknowledgement sent")
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.o.Timeout)
	defer cancel()
	if err := b.s.q.AddMessage(rctx, m.TN, queue.Message{From: queue.FromSystem, Kind: "text", Text: m.Body,
		Status: status}); err != nil {
		log.Warn("acknowledgement not recorded in the contact", zap.Error(err))
	}
}
