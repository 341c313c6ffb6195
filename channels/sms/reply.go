package sms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/sms/smpp"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// Reply sends an agent's reply to the citizen on the path the answer rule
// (sms.answer) picks for the contact. Over the SMPP transceiver bind it goes
// at once as submit_sm: GSM 7-bit when every character has a GSM form,
// UCS-2 otherwise, split with a concatenation header when long. Through a
// cloud provider it is checked (a reply template, its length) and queued
// durably in the outbox, which sends it from the reply template, split into
// several SMS when longer than the template's variable allows. Delivery
// receipts and reports later add the reply's status to the conversation.
func (g *Gateway) Reply(ctx context.Context, c *queue.Contact, text string) error {
	to, path, err := g.route(ctx, c)
	if err != nil {
		return err
	}
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("%w: the reply is empty", channels.ErrReplyRejected)
	}
	if path != PathSMPP {
		return g.replyCloud(ctx, path, c, to, text)
	}
	_, err = g.send(ctx, c.TrackingNo, to, text)
	return err
}

// CanReply reports whether a reply to c could go out: nil, or
// channels.ErrNoReplyPath when the contact has no number or no SMS path can
// send (no SMPP transceiver bind, no cloud provider with send enabled).
func (g *Gateway) CanReply(ctx context.Context, c *queue.Contact) error {
	_, _, err := g.route(ctx, c)
	return err
}

// route is the number a reply to c goes to and the path it takes, read
// once for both the check and the reply.
func (g *Gateway) route(ctx context.Context, c *queue.Contact) (to, path string, err error) {
	if to = replyTo(c); to == "" {
		return "", "", fmt.Errorf("%w: the citizen left no phone number", channels.ErrNoReplyPath)
	}
	if path = g.replyPath(ctx, c); path == "" {
		return "", "", fmt.Errorf("%w: no SMS path can send (no SMPP transceiver bind, no cloud provider with send "+
			"enabled)", channels.ErrNoReplyPath)
	}
	return to, path, nil
}

// replyTo is the number a reply to c goes to.
func replyTo(c *queue.Contact) string {
	if c.Citizen.Phone != "" {
		return c.Citizen.Phone
	}
	return c.Citizen.Address
}

func errorsIsNotBound(err error) bool { return errors.Is(err, ErrNotBound) }

func joinIDs(ids []string) string { return strings.Join(ids, ",") }

// dest turns a citizen's address into an SMPP destination.
func dest(to string) (smpp.Address, error) {
	digits := strings.TrimPrefix(to, "+")
	if digits == "" || len(digits) > 20 || strings.Trim(digits, "0123456789") != "" {
		return smpp.Address{}, fmt.Errorf("%w: %s is not a number SMS can reach", channels.ErrNoReplyPath,
			channels.MaskPhone(to))
	}
	if strings.HasPrefix(to, "+") {
		return smpp.Address{TON: 1, NPI: 1, Addr: digits}, nil // international, E.164
	}
	return smpp.Address{TON: 0, NPI: 1, Addr: digits}, nil
}

// send submits text to one number and returns the SMSC's message ids, one
// per part; they are tracked for receipts against tn.
func (g *Gateway) send(ctx context.Context, tn, to, text string) ([]string, error) {
	s := g.cur.Load()
	if s == nil {
		return nil, ErrNotBound
	}
	da, err := dest(to)
	if err != nil {
		return nil, err
	}
	c := g.c.SMPP
	enc, err := smpp.EncodeText(text, c.MaxReplyParts)
	if err != nil && utf8.ValidString(text) {
		return nil, fmt.Errorf("%w: [sms_reply_too_long] 回复共 %d 字，超过短信中心一次最多 %d 条短信的上限"+
			"（sms.smpp.max_reply_parts），请缩短后再发 (%v)", channels.ErrReplyRejected, utf8.RuneCountInString(text),
			c.MaxReplyParts, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", channels.ErrReplyRejected, err)
	}
	ref := byte(g.ref.Add(1))
	var ids []string
	tr := g.tracker.start(tn, len(enc.Parts), "")
	track := func(r *smpp.PDU) {
		if r.ID == smpp.SubmitSMResp && r.Status == smpp.StatusOK && !c.NoReceipts {
			g.tracker.add(tr, r.MessageID)
		}
	}
	defer func() { g.tracker.stop(tr, len(ids)) }()
	for i, part := range enc.Parts {
		sm := &smpp.SM{Source: smpp.Address{TON: c.SourceTON, NPI: c.SourceNPI, Addr: c.SourceAddr}, Dest: da,
			DataCoding: enc.DataCoding, ShortMessage: part}
		if !c.NoReceipts {
			sm.RegisteredDelivery = 1
		}
		if len(enc.Parts) > 1 {
			sm.ESMClass = smpp.ESMUDHI
			sm.ShortMessage = append(smpp.UDH8(ref, len(enc.Parts), i+1), part...)
		}
		rctx, cancel := context.WithTimeout(ctx, c.ResponseTimeout)
		r, err := s.requestHook(rctx, &smpp.PDU{ID: smpp.SubmitSM, SM: sm}, track)
		cancel()
		switch {
		case err != nil:
			return ids, fmt.Errorf("sms: part %d of %d not sent: %w", i+1, len(enc.Parts), err)
		case r.Status.Temporary():
			return ids, fmt.Errorf("sms: the SMSC is busy (%s): part %d of %d not sent, try again", r.Status, i+1,
				len(enc.Parts))
		case r.Status != smpp.StatusOK:
			return ids, fmt.Errorf("%w: the SMSC refused part %d of %d: %s", channels.ErrReplyRejected, i+1,
				len(enc.Parts), r.Status)
		}
		ids = append(ids, r.MessageID)
	}
	g.log.Debug("SMS sent", zap.String("contact", tn), zap.Int("parts", len(ids)))
	return ids, nil
}

var _ channels.Replier = (*Gateway)(nil)
