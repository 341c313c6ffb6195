package agentdesk

import (
	"context"
	"errors"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// ReplyChecker is a Replier that can tell, before the agent writes a reply,
// whether one could go out now: nil, or an error wrapping
// channels.ErrNoReplyPath or channels.ErrReplyWindowClosed. Any other error
// means it cannot be told now (the desk then offers the reply box).
type ReplyChecker interface {
	CanReply(ctx context.Context, c *queue.Contact) error
}

// deskContact is the contact object the desk shows: the contact, and what
// the server works out for the agent.
type deskContact struct {
	*queue.Contact
	History  []queue.Summary `json:"history"`
	Messages []queue.Message `json:"messages,omitempty"`
	// QueueTitle is the queue's name for people (综合受理).
	QueueTitle string `json:"queue_title,omitempty"`
	// Via tells letters apart: "email" for an e-mail, "web" for a letter
	// written in a web form (channel mailbox).
	Via string `json:"via,omitempty"`
	// EmergencyAdvice is what the citizen was told at once, for an
	// emergency; SuggestedOutcome the outcome its kind usually takes.
	EmergencyAdvice  string        `json:"emergency_advice,omitempty"`
	SuggestedOutcome queue.Outcome `json:"suggested_outcome,omitempty"`
	// CanReply says whether the reply box is shown; when not, ReplyNote
	// says why, in Chinese.
	CanReply  bool   `json:"can_reply"`
	ReplyNote string `json:"reply_note,omitempty"`
}

// emergencyOutcome is the outcome an emergency of each kind usually takes.
var emergencyOutcome = map[string]queue.Outcome{
	channels.EmergencyFire:    queue.OutcomeTransfer119,
	channels.EmergencyGas:     queue.OutcomeTransfer119,
	channels.EmergencyMedical: queue.OutcomeTransfer120,
	channels.EmergencyPolice:  queue.OutcomeTransfer110,
	channels.EmergencyTraffic: queue.OutcomeTransfer122,
}

// enrich fills in what the desk shows beyond the stored contact.
func (s *Server) enrich(ctx context.Context, dc *deskContact) {
	c := dc.Contact
	dc.QueueTitle = s.titles[c.Queue]
	if c.Channel == queue.ChannelMailbox {
		dc.Via = "web"
		if c.SenderAuth != nil {
			dc.Via = "email"
		}
	}
	if c.Emergency != "" {
		dc.EmergencyAdvice = channels.EmergencyAdvice(c.Emergency)
		dc.SuggestedOutcome = emergencyOutcome[c.Emergency]
	}
	dc.CanReply, dc.ReplyNote = s.replyState(ctx, c)
}

// replyState says whether the agent can reply to c on its channel, and if
// not, why, in a sentence for the agent.
func (s *Server) replyState(ctx context.Context, c *queue.Contact) (bool, string) {
	switch c.Channel {
	case queue.ChannelVoice:
		return false, "电话诉求不能发送文字回复；如需答复，请回拨市民电话。"
	case queue.ChannelTransfer:
		return false, "110转来的诉求不能直接回复市民；请按转办流程处理。"
	}
	r := s.repliers[c.Channel]
	if r == nil {
		return false, "本渠道未开通回复功能，不能在此回复市民；如需答复，请电话联系。"
	}
	rc, ok := r.(ReplyChecker)
	if !ok {
		return true, ""
	}
	err := rc.CanReply(ctx, c)
	switch {
	case err == nil:
		return true, ""
	case errors.Is(err, channels.ErrReplyWindowClosed):
		return false, "市民最后一次留言已超过微信48小时回复期，或已取消关注，微信不再送达回复；如需答复，请电话联系。"
	case errors.Is(err, channels.ErrNoReplyPath):
		return false, noPathNote(c)
	}
	s.log.Warn("cannot tell whether a reply can go out", zap.String("contact", c.TrackingNo), zap.Error(err))
	return true, ""
}

// noPathNote says why a contact has no way for a reply.
func noPathNote(c *queue.Contact) string {
	switch c.Channel {
	case queue.ChannelSMS:
		if c.Citizen.Phone == "" && c.Citizen.Address == "" {
			return "来件没有手机号码，无法回复短信。"
		}
		return "短信发送通道未开通（没有可发送的短信网关），无法回复短信；如需答复，请电话联系。"
	case queue.ChannelWeChat:
		return "该微信公众号未配置发送接口，无法回复微信；如需答复，请电话联系。"
	case queue.ChannelMailbox, queue.ChannelWeb:
		switch {
		case c.Citizen.Email != "":
			return "外发邮件服务器未配置，无法回复邮件；如需答复，请电话联系。"
		case c.Citizen.Phone != "":
			return "来信人未留电子邮箱，短信发送通道也未开通，无法回复；如需答复，请电话联系。"
		}
		return "来信人未留电子邮箱或手机号码，无法回复。"
	}
	return "本渠道无法回复市民。"
}
