package wechat

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
	"unicode/utf8"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// maxReplyBytes is what the customer-service API takes in one text message.
const maxReplyBytes = 2048

var _ channels.Replier = (*Channel)(nil)

// CanReply reports whether a reply to c could go out now, before the agent
// writes one: nil, or channels.ErrNoReplyPath (no OpenID, the account is not
// configured or has no app_secret) or channels.ErrReplyWindowClosed (the
// citizen unfollowed the account, or last wrote more than the reply window
// ago). Other errors mean it cannot be told now.
func (ch *Channel) CanReply(ctx context.Context, c *queue.Contact) error {
	if c.Channel != queue.ChannelWeChat || c.Citizen.Address == "" {
		return fmt.Errorf("%w: contact %s has no WeChat OpenID", channels.ErrNoReplyPath, c.TrackingNo)
	}
	a := ch.accounts[c.Line]
	if a == nil {
		return fmt.Errorf("%w: no WeChat account %q is configured", channels.ErrNoReplyPath, c.Line)
	}
	if a.cfg.AppSecret == "" {
		return fmt.Errorf("%w: account %s has no app_secret for the API", channels.ErrNoReplyPath, a.cfg.ID)
	}
	left, err := ch.follows.UnfollowedAt(ctx, a.cfg.ID, c.Citizen.Address)
	if err != nil {
		return fmt.Errorf("wechat: reply not sent, try again later: %w", err)
	}
	if !left.IsZero() {
		return fmt.Errorf("%w: the citizen unfollowed the account at %s; WeChat delivers nothing until they follow "+
			"again and write", channels.ErrReplyWindowClosed, left.In(chinaTime).Format("2006-01-02 15:04"))
	}
	if a.cfg.Kind == KindOfficial {
		last, err := ch.lastHeard(ctx, c)
		if err != nil {
			return err
		}
		if ch.now().Sub(last) > ch.cfg.ReplyWindow {
			return fmt.Errorf("%w: the citizen last wrote at %s, more than %s ago", channels.ErrReplyWindowClosed,
				last.In(chinaTime).Format("2006-01-02 15:04"), ch.cfg.ReplyWindow)
		}
	}
	return nil
}

// Reply sends an agent's reply to the citizen through the customer-service
// message API (WeCom: the app message API). It is refused with
// channels.ErrReplyWindowClosed when more than 48 hours have passed since
// the citizen last wrote (by our record, or WeChat's errcode 45015) or when
// they unfollowed the account (the unsubscribe event), channels.ErrNoReplyPath when the contact has no OpenID or its account is
// not configured, and channels.ErrReplyRejected when WeChat refuses it for
// good. Temporary failures are retried with backoff until ctx ends.
func (ch *Channel) Reply(ctx context.Context, c *queue.Contact, text string) error {
	if text == "" || len(text) > maxReplyBytes || !utf8.ValidString(text) {
		return fmt.Errorf("%w: a WeChat text reply is 1 to %d bytes of UTF-8", channels.ErrReplyRejected, maxReplyBytes)
	}
	if err := ch.CanReply(ctx, c); err != nil {
		return err
	}
	a := ch.accounts[c.Line]
	log := ch.log.With(zap.String("account", a.cfg.ID), zap.String("contact", c.TrackingNo))
	ctx, cancel := context.WithTimeout(ctx, time.Duration(ch.cfg.SendAttempts)*(ch.cfg.APITimeout+ch.cfg.Backoff))
	defer cancel()
	wait := ch.cfg.Backoff
	for try := 1; ; try++ {
		err := a.send(ctx, c.Citizen.Address, text)
		if err == nil {
			log.Info("reply sent", zap.Int("attempt", try))
			return nil
		}
		if !temporary(err) || try >= ch.cfg.SendAttempts {
			log.Info("reply not sent", zap.Int("attempt", try), zap.Error(err))
			return replyError(err)
		}
		log.Debug("reply failed; trying again", zap.Int("attempt", try), zap.Error(err))
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wechat: reply not sent: %w (last error: %v)", ctx.Err(), err)
		case <-t.C:
		}
		wait *= 2
	}
}

// send posts one text message to user.
func (a *account) send(ctx context.Context, user, text string) error {
	if a.cfg.Kind == KindWeCom {
		return a.api.postJSON(ctx, "/cgi-bin/message/send", map[string]any{
			"touser": user, "msgtype": "text", "agentid": a.cfg.AgentID, "text": map[string]string{"content": text}})
	}
	return a.api.postJSON(ctx, "/cgi-bin/message/custom/send", map[string]any{
		"touser": user, "msgtype": "text", "text": map[string]string{"content": text}})
}

// replyError maps the API's answer to what the agent must see.
func replyError(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("wechat: reply not sent, try again later: %w", err)
	}
	switch ae.Code {
	case codeWindowClosed:
		return fmt.Errorf("%w: WeChat says more than 48 hours have passed since the citizen's last message (%w)",
			channels.ErrReplyWindowClosed, err)
	case codeTooManyReplies:
		return fmt.Errorf("%w: WeChat allows no more messages until the citizen writes again (%w)",
			channels.ErrReplyWindowClosed, err)
	case codeNotFollowing:
		return fmt.Errorf("%w: the citizen no longer follows the account (%w)", channels.ErrReplyRejected, err)
	case codeBadOpenID:
		return fmt.Errorf("%w: WeChat does not know this OpenID (%w)", channels.ErrReplyRejected, err)
	case codeBusy, codeFreqLimit:
		return fmt.Errorf("wechat: reply not sent, try again later: %w", err)
	}
	return fmt.Errorf("%w: %w", channels.ErrReplyRejected, err)
}

// lastHeard is when the citizen last wrote on this contact: its last
// citizen message, or its first intake.
func (ch *Channel) lastHeard(ctx context.Context, c *queue.Contact) (time.Time, error) {
	last := c.ReceivedAt
	msgs, err := ch.q.Messages(ctx, c.TrackingNo)
	if err != nil {
		return time.Time{}, fmt.Errorf("wechat: the citizen's last message: %w", err)
	}
	for _, m := range msgs {
		if m.From == queue.FromCitizen && m.At.After(last) {
			last = m.At
		}
	}
	return last, nil
}

// chinaTime shows times to agents (UTC+8).
var chinaTime = time.FixedZone("CST", 8*3600)
