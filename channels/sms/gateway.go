package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// Receiver is the part of the queue the SMS channel needs.
type Receiver interface {
	channels.Receiver // channels.Take: every SMS goes in through the one intake path
	AddMessage(ctx context.Context, tn string, m queue.Message) error
}

// Gateway is the SMS channel: HTTP push endpoints, the SMPP bind, and the
// Replier for agents' answers.
type Gateway struct {
	c   Config
	q   Receiver
	log *zap.Logger
	now func() time.Time

	http    *http.Client
	cur     atomic.Pointer[session] // the bound session, if any
	box     Outbox
	wake    chan struct{}
	tracker tracking
	memo    memo
	senders map[string]sender // cloud paths that send: aliyun, tencent
	backoff time.Duration     // the first wait before a notice is tried again
	poll    time.Duration     // how often an idle outbox worker looks for due notices
	ref     atomic.Uint32     // concatenation references of replies
}

// notice is an SMS we send on our own: the acknowledgement with the
// tracking number, emergency advice. Notices wait in a durable outbox, so a
// link that is down or a node that dies delays them but loses none.
type notice struct {
	TN   string `json:"tn"`
	To   string `json:"to"`
	Text string `json:"text"`
	// Via is the path: "" or smpp sends Text over the SMPP bind; aliyun
	// and tencent send SMS from the approved templates.
	Via string `json:"via,omitempty"`
	// SMS are the templated SMS to send on a cloud path, in order.
	SMS []cloudSMS `json:"sms,omitempty"`
	// Reply marks an agent's reply: the desk has put it on the
	// conversation already, so only a failure is added.
	Reply bool `json:"reply,omitempty"`
}

// cloudSMS is one SMS from a template: which one, and the values of its
// params (tracking_no, number, text).
type cloudSMS struct {
	Kind   string            `json:"kind"` // ack, emergency, reply
	Values map[string]string `json:"values,omitempty"`
}

// Outbox keeps notices durably until sent (queue.Outbox).
type Outbox interface {
	Put(ctx context.Context, payload []byte) (string, error)
	Serve(ctx context.Context, lease, poll time.Duration, wake <-chan struct{}, do func(context.Context, queue.Job))
	Retry(ctx context.Context, id string, wait time.Duration) error
	Done(ctx context.Context, id string) error
}

var _ Outbox = (*queue.Outbox)(nil)

// Option changes how a Gateway is made.
type Option func(*Gateway)

// WithOutbox keeps notices in box [without one no notices are sent].
func WithOutbox(box Outbox) Option { return func(g *Gateway) { g.box = box } }

// WithHTTPClient sends through the cloud providers' APIs with c
// [http.DefaultClient's transport, no overall timeout: each call is bounded
// by the sender's timeout].
func WithHTTPClient(c *http.Client) Option { return func(g *Gateway) { g.http = c } }

// New returns the SMS gateway. c gets its defaults and is validated.
func New(c Config, log *zap.Logger, q Receiver, opts ...Option) (*Gateway, error) {
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
	g := &Gateway{c: c, q: q, log: log.Named("sms"), now: time.Now, wake: make(chan struct{}, 1),
		tracker: newTracker(100_000), memo: newMemMemo(100_000), backoff: noticeBackoff, poll: noticePoll, http: &http.Client{}, senders: map[string]sender{}}
	for _, o := range opts {
		o(g)
	}
	if c.Aliyun.Send.Enabled {
		g.senders[PathAliyun] = &aliyunSender{c: c.Aliyun.Send, http: g.http, now: g.now}
	}
	if c.Tencent.Send.Enabled {
		g.senders[PathTencent] = &tencentSender{c: c.Tencent.Send, http: g.http, now: g.now}
	}
	if c.cannotSend() {
		g.log.Warn(noSendPath) // said once here, not at each reply the agents try
	}
	return g, nil
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

// Notices are tried again while the link is down, with backoff from
// noticeBackoff up to noticeMaxBackoff, at most noticeTries times.
const (
	noticeBackoff    = 2 * time.Second
	noticeMaxBackoff = 2 * time.Minute
	noticeTries      = 20
	noticePoll       = time.Second
)

// runOutbox sends notices from the outbox until ctx ends.
func (g *Gateway) runOutbox(ctx context.Context) error {
	if g.box == nil || (!g.c.canSend(PathSMPP) && len(g.senders) == 0) {
		<-ctx.Done()
		return nil
	}
	lease := time.Duration(g.c.SMPP.MaxReplyParts+1)*g.c.SMPP.ResponseTimeout + time.Minute
	for _, s := range []Sender{g.c.Aliyun.Send, g.c.Tencent.Send} {
		if s.Enabled {
			lease = max(lease, time.Duration(s.MaxReplyParts+2)*s.Timeout+time.Minute)
		}
	}
	g.box.Serve(ctx, lease, g.poll, g.wake, g.sendNotice)
	return nil
}

// notify queues a notice; a failure to queue it is logged (the contact is
// safe either way).
func (g *Gateway) notify(ctx context.Context, n notice) {
	if n.Text == "" || g.box == nil {
		return
	}
	if err := g.put(ctx, n); err != nil {
		g.log.Warn("notice not queued", zap.String("contact", n.TN), zap.Error(err))
	}
}

// put queues a notice and wakes the outbox worker.
func (g *Gateway) put(ctx context.Context, n notice) error {
	payload, err := json.Marshal(n)
	if err == nil {
		_, err = g.box.Put(ctx, payload)
	}
	if err != nil {
		return err
	}
	select {
	case g.wake <- struct{}{}:
	default:
	}
	return nil
}

func (g *Gateway) sendNotice(ctx context.Context, j queue.Job) {
	ctx = context.WithoutCancel(ctx)
	var n notice
	if err := json.Unmarshal(j.Payload, &n); err != nil {
		g.log.Error("bad notice in the outbox; dropped", zap.String("job", j.ID), zap.Error(err))
		_ = g.box.Done(ctx, j.ID)
		return
	}
	if n.Via != "" && n.Via != PathSMPP {
		g.sendCloud(ctx, j, n)
		return
	}
	ids, err := g.send(ctx, n.TN, n.To, n.Text)
	if errorsIsNotBound(err) && j.Tries < noticeTries {
		wait := min(g.backoff<<min(j.Tries-1, 10), noticeMaxBackoff)
		g.log.Info("notice waits for the SMPP link", zap.String("contact", n.TN), zap.Duration("in", wait))
		_ = g.box.Retry(ctx, j.ID, wait)
		return
	}
	st := "sent"
	if err != nil {
		st = "failed"
		g.log.Info("notice not sent", zap.String("contact", n.TN), zap.Error(err))
	}
	m := queue.Message{ID: joinIDs(ids), From: queue.FromSystem, Kind: "text", Text: n.Text, Status: st}
	rctx, cancel := context.WithTimeout(ctx, g.c.SMPP.ResponseTimeout)
	defer cancel()
	if err := g.q.AddMessage(rctx, n.TN, m); err != nil {
		g.log.Warn("notice not recorded", zap.String("contact", n.TN), zap.Error(err))
	}
	if err := g.box.Done(rctx, j.ID); err != nil {
		g.log.Warn("notice not cleared from the outbox; it may be sent twice", zap.Error(err))
	}
}
