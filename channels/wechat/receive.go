package wechat

import (
	"context"
	"errors"
	"net/http"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// receive takes a message or event (POST). The citizen's message is in
// Redis before WeChat gets an answer; when Redis cannot take it WeChat gets
// 503 and tries again, and a retry finds the first contact (idempotency key
// on MsgId, or sender+CreateTime+Event for events). The passive reply
// carries the tracking number.
func (ch *Channel) receive(w http.ResponseWriter, r *http.Request) {
	a := ch.account(w, r)
	if a == nil {
		return
	}
	m, encrypted, ok := ch.open(w, r, a)
	if !ok {
		return
	}
	p, err := m.read(a.cfg.ID)
	if err != nil {
		refuse(w, http.StatusBadRequest, reason(err))
		return
	}
	log := ch.log.With(zap.String("account", a.cfg.ID), zap.String("from", channels.MaskText(p.from)),
		zap.String("type", p.msgType))
	if !p.contact {
		log.Debug("event", zap.String("event", p.event))
		if !ch.noteFollow(r.Context(), w, a, p, log) {
			return
		}
		text := ""
		if p.welcome {
			text = a.cfg.Welcome
			if text == "" {
				text = ch.cfg.Welcome
			}
		}
		ch.answer(w, a, m, encrypted, text)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), ch.cfg.AnswerWithin)
	defer cancel()
	in := queue.Intake{Channel: queue.ChannelWeChat, Line: a.cfg.ID, LineName: a.cfg.Name,
		Citizen: queue.Citizen{Address: p.from}, Subject: subject(p.text), Text: p.text, Location: p.location,
		Queue: a.cfg.Queue, ReceivedAt: ch.now()}
	if rated, ok := ch.rating(ctx, w, a, m, encrypted, p, log); ok || rated {
		return
	}
	// The one intake path: triage, the alert raised with the contact, and
	// a MsgId that comes again with other content taken as the new message
	// it is (keyed by the id and the content's hash).
	tk, err := channels.Take(ctx, ch.q, channels.Request{In: in, Key: p.idemKey, Conversation: true, ProviderKey: true})
	rc := tk.Receipt
	switch {
	case errors.Is(err, queue.ErrInvalid):
		refuse(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		log.Warn("message not queued; WeChat will try again", zap.Error(err))
		w.Header().Set("Retry-After", "5")
		refuse(w, http.StatusServiceUnavailable, "the message could not be stored; send it again")
		return
	}
	log = log.With(zap.String("contact", rc.TrackingNo))
	log.Info("message received", zap.Bool("joined", rc.Joined), zap.Bool("duplicate", rc.Duplicate),
		zap.String("emergency", tk.Emergency))
	if p.mediaID != "" && !rc.Duplicate {
		ch.queueMedia(ctx, mediaJob{Account: a.cfg.ID, TN: rc.TrackingNo, Kind: p.kind, MediaID: p.mediaID,
			MsgType: p.msgType, MsgID: m.MsgID}, log)
	}
	text := tk.Ack
	ch.answer(w, a, m, encrypted, text)
}

// noteFollow records an unsubscribe (the citizen's reply window ends) or a
// subscribe (it may open again); when the record cannot be kept WeChat gets
// 503 and sends the event again. It reports whether to go on.
func (ch *Channel) noteFollow(ctx context.Context, w http.ResponseWriter, a *account, p *push, log *zap.Logger) bool {
	ctx, cancel := context.WithTimeout(ctx, ch.cfg.AnswerWithin)
	defer cancel()
	var err error
	switch p.event {
	case "unsubscribe":
		err = ch.follows.Unfollowed(ctx, a.cfg.ID, p.from, ch.now(), ch.cfg.ReplyWindow)
		if err == nil {
			log.Info("the citizen unfollowed the account: no more replies reach them")
		}
	case "subscribe":
		err = ch.follows.Followed(ctx, a.cfg.ID, p.from)
	default:
		return true
	}
	if err != nil {
		log.Warn("follow state not recorded; WeChat will send the event again", zap.String("event", p.event), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		refuse(w, http.StatusServiceUnavailable, "the event could not be recorded; send it again")
		return false
	}
	return true
}
