package sms

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/sms/smpp"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// handle stores one message or receipt and answers its deliver_sm PDUs:
// ESME_ROK once durable, ESME_RX_T_APPN when Redis did not take it (the
// SMSC delivers again), ESME_RX_P_APPN for what can never be taken.
func (s *session) handle(ctx context.Context, j job) {
	// A message being stored when the node stops is finished, within bounds.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.g.c.SMPP.ResponseTimeout)
	defer cancel()
	if j.receipt != nil {
		s.respond(j.seqs, s.g.receipt(ctx, j.receipt))
		return
	}
	text, err := smpp.Decode(j.dc, s.g.c.SMPP.DefaultAlphabet, j.data)
	if err != nil {
		s.log.Warn("deliver_sm not text", zap.String("from", channels.MaskPhone(j.src)), zap.Error(err))
		s.respond(j.seqs, smpp.StatusRxPAppn)
		return
	}
	if len(j.missing) > 0 {
		text += fmt.Sprintf("\n（长短信不完整：共 %d 段，未收到第 %s 段）", j.total, ints(j.missing))
	}
	// SMPP has no message id for a citizen's SMS: the sender, the message
	// (bytes and long-message reference) and the dedupe window make one.
	win := s.g.now().UnixNano() / int64(s.g.c.SMPP.DedupeWindow)
	idem := "sms:smpp:" + contentKey(j.src, j.dst, j.key, string(j.data), ints(j.missing), strconv.FormatInt(win, 10))
	_, err = s.g.take(ctx, inbound{provider: "smpp", idem: idem, from: j.src, to: j.dst, text: text})
	switch {
	case err == nil:
		s.respond(j.seqs, smpp.StatusOK)
	case permanent(err):
		s.log.Warn("deliver_sm refused for good", zap.String("from", channels.MaskPhone(j.src)), zap.Error(err))
		s.respond(j.seqs, smpp.StatusRxPAppn)
	default:
		s.log.Warn("deliver_sm not stored; asking the SMSC to deliver again", zap.Error(err))
		s.respond(j.seqs, smpp.StatusRxTAppn)
	}
}

// receipt records a delivery receipt against the reply it is about.
func (g *Gateway) receipt(ctx context.Context, sm *smpp.SM) smpp.Status {
	r, err := smpp.ParseReceipt(sm)
	if err != nil {
		g.log.Warn("bad delivery receipt", zap.Error(err))
		return smpp.StatusOK // nothing to retry: the SMSC would send the same bytes
	}
	known, err := g.fileReceipt(ctx, r, r.Stat)
	if !known && err == nil {
		g.log.Debug("receipt for a message we do not track", zap.String("id", r.ID), zap.String("stat", r.Stat))
	}
	if err != nil {
		g.log.Warn("receipt not recorded; asking the SMSC to send it again", zap.Error(err))
		return smpp.StatusRxTAppn
	}
	return smpp.StatusOK
}

// fileReceipt records a receipt or delivery report against the SMS it is
// about, once per SMS (all parts delivered, or any failed); why says what
// a failure means. known is false for an id we do not track. An error is
// temporary: ask for the receipt again.
func (g *Gateway) fileReceipt(ctx context.Context, r smpp.Receipt, why string) (known bool, err error) {
	st, ok, err := g.tracker.receipt(r)
	if err != nil || !ok {
		return false, err
	}
	if st.status == "" {
		return true, nil // more parts to hear about, or reported already
	}
	text := "短信已送达"
	if st.status == "failed" {
		text = "短信未送达（" + why + "）"
	}
	err = g.q.AddMessage(ctx, st.tn, queue.Message{ID: r.ID, From: queue.FromSystem, Kind: "event", Text: text,
		Status: st.status, At: time.Now()})
	if err != nil && queue.Temporary(err) {
		return true, err
	}
	g.tracker.reported(r.ID)
	return true, nil
}

func ints(n []int) string {
	s := make([]string, len(n))
	for i, v := range n {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, "、")
}
