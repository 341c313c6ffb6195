package sms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// inbound is one citizen's SMS as any provider hands it over.
type inbound struct {
	provider string // aliyun, tencent, generic, smpp
	idem     string // the idempotency key: provider and message id
	from, to string
	text     string
	at       time.Time
}

// address turns a sender as providers write it into the citizen's address
// and, when it is a phone number (Chinese, or another country's with its
// code), E.164 phone: one person's SMS, calls and letters link by it.
func address(from string) (addr, phone string, err error) {
	from = strings.TrimSpace(from)
	if e164, ok := channels.PhoneE164(from); ok {
		return e164, e164, nil
	}
	digits := strings.TrimPrefix(from, "+")
	switch {
	case from == "":
		return "", "", fmt.Errorf("%w: the sender's number is missing", ErrBadMessage)
	case len(digits) >= 3 && len(digits) <= 15 && strings.Trim(digits, "0123456789") == "":
		if strings.HasPrefix(from, "+") || strings.HasPrefix(digits, "00") {
			return "+" + strings.TrimPrefix(digits, "00"), "", nil
		}
		return digits, "", nil
	}
	return "", "", fmt.Errorf("%w: sender %s is not a phone number", ErrBadMessage, quote(from))
}

// take stores one SMS: it joins the citizen's open contact or starts one.
// A nil error means it is durable and the provider may be acknowledged; an
// error wrapping ErrBadMessage or queue.ErrInvalid is permanent; any other
// error is temporary.
func (g *Gateway) take(ctx context.Context, m inbound) (queue.Receipt, error) {
	addr, phone, err := address(m.from)
	if err != nil {
		return queue.Receipt{}, err
	}
	line, qname := g.c.route(m.to)
	text := channels.Clean(m.text)
	in := queue.Intake{Channel: queue.ChannelSMS, Line: line, Citizen: queue.Citizen{Address: addr, Phone: phone},
		Text: text, Queue: qname, ReceivedAt: m.at}
	log := g.log.With(zap.String("provider", m.provider), zap.String("from", channels.MaskPhone(addr)))
	if rc, rated, err := g.rating(ctx, m, addr, text, log); rated || err != nil {
		return rc, err
	}
	// The one intake path: triage, the alert raised with the contact, and
	// a provider's reused message id with other content taken as the new
	// SMS it is (keyed by the id and the content's hash).
	tk, err := channels.Take(ctx, g.q, channels.Request{In: in, Key: m.idem, Conversation: true, ProviderKey: true})
	rc := tk.Receipt
	if err != nil {
		return rc, err
	}
	log = log.With(zap.String("contact", rc.TrackingNo))
	if tk.Emergency != "" {
		log.Warn("emergency SMS", zap.String("kind", tk.Emergency))
	}
	// A duplicate was acknowledged the first time (its emergency advice
	// goes again: better twice than never).
	g.answer(ctx, m.provider, rc.TrackingNo, addr, !rc.Duplicate && !g.c.NoAck, rc.Joined, tk.Emergency)
	log.Debug("SMS stored", zap.Bool("duplicate", rc.Duplicate), zap.Bool("joined", rc.Joined))
	return rc, nil
}

// permanent reports whether a take error will not go away on a retry.
func permanent(err error) bool {
	return errors.Is(err, ErrBadMessage) || (err != nil && !queue.Temporary(err))
}

// contentKey identifies a message without a provider id by what it says.
func contentKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return fmt.Sprintf("%q", s)
}
