package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/lianxin/lianxin/agentdesk"
	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/rating"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// ratingAsker asks the citizen of a text contact for a rating once an agent
// wrapped it up (agentdesk.Params.AfterWrapUp): SMS and WeChat get the
// question and answer with a digit; e-mail and web letters get a link to the
// public rating page. Once per contact.
//
// A contact no question can reach (a WeChat account without an API secret,
// no SMS path that sends, no number, a closed reply window) is not asked: an
// ask recorded would show it as asked and let a stray digit rate it. A
// channel that has no path is logged once every unableEvery with the
// contacts it left unasked, not at every wrap-up.
type ratingAsker struct {
	q        *queue.Queue
	repliers map[queue.Channel]agentdesk.Replier
	cfg      configs.Rating
	log      *zap.Logger
	unable   *unableLog
}

// unableEvery is how often a channel's contacts left unasked for want of a
// reply path are logged.
const unableEvery = 10 * time.Minute

// unableLog counts, per channel, the contacts not asked for want of a path.
type unableLog struct {
	mu sync.Mutex
	by map[queue.Channel]*unableCount
}

type unableCount struct {
	last time.Time // logged
	n    int       // since
}

// note counts one contact of channel ch and says whether to log now, with
// the count since the last time.
func (u *unableLog) note(ch queue.Channel, now time.Time) (int, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.by == nil {
		u.by = map[queue.Channel]*unableCount{}
	}
	c := u.by[ch]
	if c == nil {
		c = &unableCount{}
		u.by[ch] = c
	}
	c.n++
	if !c.last.IsZero() && now.Sub(c.last) < unableEvery {
		return 0, false
	}
	n := c.n
	c.last, c.n = now, 0
	return n, true
}

func (r ratingAsker) ask(ctx context.Context, tn string, ch queue.Channel) {
	if ch != "" && !r.mayAsk(ch) {
		return // known without reading the contact
	}
	c, err := r.q.Contact(ctx, tn)
	if err != nil {
		r.log.Warn("rating: contact not read", zap.String("contact", tn), zap.Error(err))
		return
	}
	rp := r.repliers[c.Channel]
	if rp == nil || c.Outcome == queue.OutcomeInvalid || c.Outcome == queue.OutcomeDuplicate {
		return
	}
	ask := queue.RatingAsk{Window: r.cfg.Window}
	var text string
	switch c.Channel {
	case queue.ChannelSMS, queue.ChannelWeChat:
		ask.Reply = queue.ReplyKey(c.Channel, c.Citizen.Address)
		text = channels.RatingQuestion
	case queue.ChannelMailbox, queue.ChannelWeb:
		if r.cfg.PublicURL == "" {
			return
		}
		ask.Token = rating.NewToken()
		text = "【12345】您的诉求（受理编号 " + tn + "）已办结，请对本次服务进行评价：" +
			strings.TrimRight(r.cfg.PublicURL, "/") + "/rate/" + ask.Token
	default:
		return
	}
	if rc, ok := rp.(agentdesk.ReplyChecker); ok {
		switch err := rc.CanReply(ctx, c); {
		case errors.Is(err, channels.ErrNoReplyPath):
			if n, now := r.unable.note(c.Channel, time.Now()); now {
				r.log.Warn("rating not asked: no reply can reach these citizens", zap.Duration("logged_every", unableEvery),
					zap.String("channel", string(c.Channel)), zap.Int("contacts", n),
					zap.String("last_contact", tn), zap.Error(err))
			}
			return
		case errors.Is(err, channels.ErrReplyWindowClosed):
			r.log.Debug("rating not asked: the reply window closed", zap.String("contact", tn), zap.Error(err))
			return
		}
		// Anything else (the reply path not readable now): the reply
		// below says what went wrong, as before.
	}
	first, err := r.q.AskRating(ctx, tn, ask)
	if err != nil || !first {
		if err != nil {
			r.log.Warn("rating not asked", zap.String("contact", tn), zap.Error(err))
		}
		return
	}
	if err := rp.Reply(ctx, c, text); err != nil {
		r.log.Warn("rating question not sent", zap.String("contact", tn), zap.Error(err))
		return
	}
	r.log.Info("rating asked", zap.String("contact", tn), zap.String("channel", string(c.Channel)))
}

// mayAsk says whether a contact of channel ch could be asked at all: its
// channel has a reply path and a question (letters only with a public URL
// for the link).
func (r ratingAsker) mayAsk(ch queue.Channel) bool {
	if r.repliers[ch] == nil {
		return false
	}
	switch ch {
	case queue.ChannelSMS, queue.ChannelWeChat:
		return true
	case queue.ChannelMailbox, queue.ChannelWeb:
		return r.cfg.PublicURL != ""
	}
	return false
}
