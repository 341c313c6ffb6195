package sms

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// Receiver is the part of the queue the SMS channel needs.
type Receiver interface {
	Receive(ctx context.Context, in queue.Intake, idemKey string) (queue.Receipt, error)
	AddMessage(ctx context.Context, tn string, m queue.Message) error
	Alert(ctx context.Context, tn, kind, text string) error
}

// Gateway is the SMS channel: HTTP push endpoints, the SMPP bind, and the
// Replier for agents' answers.
type Gateway struct {
	c   Config
	q   Receiver
	log *zap.Logger
	now func() time.Time

	cur     atomic.Pointer[session] // the bound session, if any
	outbox  chan notice
	tracker *tracker
	ref     atomic.Uint32 // concatenation references of replies
}

// notice is an SMS we send on our own: the acknowledgement with the
// tracking number, emergency advice.
type notice struct {
	tn, to, text string
}

// New returns the SMS gateway. c gets its defaults and is validated.
func New(c Config, log *zap.Logger, q Receiver) (*Gateway, error) {
	c.defaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if q == nil {
		return nil, fmt.Errorf("%w: no queue", ErrConfig)
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Gateway{c: c, q: q, log: log.Named("sms"), now: time.Now, outbox: make(chan notice, 1024),
		tracker: newTracker(100_000)}, nil
}

// Config returns the configuration in use, defaults filled in.
func (g *Gateway) Config() Config { return g.c }

// Run keeps the SMPP bind up (when enabled) and sends acknowledgements
// until ctx ends; it returns nil then, with every goroutine it started
// stopped.
func (g *Gateway) Run(ctx context.Context) error {
	eg, ctx := errgroup.WithContext(ctx)
	if g.c.SMPP.Enabled {
		eg.Go(func() error { return g.runSMPP(ctx) })
	}
	eg.Go(func() error { return g.runOutbox(ctx) })
	return eg.Wait()
}

// runOutbox sends notices one by one; they are best effort.
func (g *Gateway) runOutbox(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case n := <-g.outbox:
			g.sendNotice(ctx, n)
		}
	}
}

func (g *Gateway) notify(n notice) {
	if n.text == "" {
		return
	}
	select {
	case g.outbox <- n:
	default:
		g.log.Warn("outbox full: notice dropped", zap.String("contact", n.tn))
	}
}

func (g *Gateway) sendNotice(ctx context.Context, n notice) {
	ids, err := g.send(ctx, n.tn, n.to, n.text)
	st := "sent"
	if err != nil {
		st = "failed"
		g.log.Info("notice not sent", zap.String("contact", n.tn), zap.Error(err))
		if errorsIsNotBound(err) {
			return // nothing went out and nothing will: no note either
		}
	}
	m := queue.Message{ID: joinIDs(ids), From: queue.FromSystem, Kind: "text", Text: n.text, Status: st}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.c.SMPP.ResponseTimeout)
	defer cancel()
	if err := g.q.AddMessage(ctx, n.tn, m); err != nil {
		g.log.Warn("notice not recorded", zap.String("contact", n.tn), zap.Error(err))
	}
}
