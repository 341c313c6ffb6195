package main

import (
	"context"
	"strings"

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
type ratingAsker struct {
	q        *queue.Queue
	repliers map[queue.Channel]agentdesk.Replier
	cfg      configs.Rating
	log      *zap.Logger
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
