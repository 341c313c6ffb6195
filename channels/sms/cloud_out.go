package sms

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// viaTTL is how long we remember which provider a contact's SMS came
// through: longer than any contact stays open.
const viaTTL = 30 * 24 * time.Hour

// sentTTL is how long we remember the parts of an outbox job already sent.
const sentTTL = 24 * time.Hour

// emergencyNumber is the line to call for each emergency kind.
var emergencyNumber = map[string]string{channels.EmergencyFire: "119", channels.EmergencyGas: "119",
	channels.EmergencyMedical: "120", channels.EmergencyPolice: "110", channels.EmergencyTraffic: "122"}

// sender returns the configuration of a cloud path.
func (c *Config) sender(path string) *Sender {
	switch path {
	case PathAliyun:
		return &c.Aliyun.Send
	case PathTencent:
		return &c.Tencent.Send
	}
	return nil
}

func (s *Sender) template(kind string) Template {
	switch kind {
	case "ack":
		return s.Ack
	case "emergency":
		return s.Emergency
	}
	return s.Reply
}

// answer queues what a citizen gets at once for an SMS that came through
// provider: the emergency advice, and when ack the tracking number
// (channels.Ack, or channels.JoinedAck for an SMS that joined an open
// contact; a cloud path sends its approved ack template for both).
func (g *Gateway) answer(ctx context.Context, provider, tn, to string, ack, joined bool, emergency string) {
	if err := g.memo.set(ctx, "via:"+tn, provider, viaTTL); err != nil {
		g.log.Warn("the provider of a contact's SMS not remembered; replies take the default path",
			zap.String("contact", tn), zap.Error(err))
	}
	var text string
	if ack {
		text = channels.Ack(tn)
		if joined {
			text = channels.JoinedAck(tn)
		}
	}
	if emergency != "" {
		text = strings.TrimSpace(channels.EmergencyAdvice(emergency) + text)
	}
	if text == "" {
		return
	}
	path := g.c.answerPath(provider)
	n := notice{TN: tn, To: to, Text: text, Via: path}
	if s := g.c.sender(path); s != nil {
		// What the conversation shows is what the templates carry.
		var said []string
		if emergency != "" && s.Emergency.ID != "" {
			n.SMS = append(n.SMS, cloudSMS{Kind: "emergency", Values: map[string]string{"tracking_no": tn,
				"number": emergencyNumber[emergency]}})
			said = append(said, channels.EmergencyAdvice(emergency))
		}
		if ack && s.Ack.ID != "" {
			n.SMS = append(n.SMS, cloudSMS{Kind: "ack", Values: map[string]string{"tracking_no": tn}})
			said = append(said, channels.Ack(tn))
		}
		n.Text = strings.Join(said, "")
		if len(n.SMS) == 0 {
			g.log.Warn("no template to answer this SMS with", zap.String("contact", tn), zap.String("path", path))
			return
		}
	}
	// With no path at all the notice waits in the outbox for an SMPP bind
	// configured later.
	g.notify(ctx, n)
}

// replyPath is the path an agent's reply on contact c goes out on.
func (g *Gateway) replyPath(ctx context.Context, c *queue.Contact) string {
	from := ""
	if c.Channel == queue.ChannelSMS {
		v, err := g.memo.get(ctx, "via:"+c.TrackingNo)
		if err != nil {
			g.log.Warn("the provider of a contact's SMS not known; the reply takes the default path",
				zap.String("contact", c.TrackingNo), zap.Error(err))
		}
		from = v
	}
	return g.c.answerPath(from)
}

// replyCloud checks a reply against the path's template and limits and
// queues it: refused up front, or durably queued as a whole.
func (g *Gateway) replyCloud(ctx context.Context, path string, c *queue.Contact, to, text string) error {
	s := g.c.sender(path)
	if _, err := dest(to); err != nil {
		return err
	}
	if s.Reply.ID == "" {
		return fmt.Errorf("%w: [sms_no_reply_template] %s没有配置自由回复模板（sms.%s.send.reply），无法发送人工回复；"+
			"请改用电话或其他渠道答复", channels.ErrReplyRejected, providerName(path), path)
	}
	parts := splitReply(text, s.MaxParamRunes)
	if len(parts) > s.MaxReplyParts {
		return fmt.Errorf("%w: [sms_reply_too_long] 回复共 %d 字，%s每条回复短信最多 %d 字、一次最多 %d 条（共 %d 字），请缩短后再发",
			channels.ErrReplyRejected, utf8.RuneCountInString(text), providerName(path), s.MaxParamRunes,
			s.MaxReplyParts, s.MaxParamRunes*s.MaxReplyParts)
	}
	if g.box == nil {
		return fmt.Errorf("sms: no outbox to send replies from")
	}
	n := notice{TN: c.TrackingNo, To: to, Text: text, Via: path, Reply: true}
	for _, p := range parts {
		n.SMS = append(n.SMS, cloudSMS{Kind: "reply", Values: map[string]string{"text": p, "tracking_no": c.TrackingNo}})
	}
	if err := g.put(ctx, n); err != nil {
		return fmt.Errorf("sms: the reply is not queued: %w", err)
	}
	return nil
}

// splitReply cuts text into pieces of at most max characters, preferring
// to cut after punctuation or a space in the last third of a piece.
func splitReply(text string, max int) []string {
	r := []rune(text)
	var out []string
	for len(r) > max {
		cut := max
		for i := max; i > max*2/3; i-- {
			if unicode.IsPunct(r[i-1]) || unicode.IsSpace(r[i-1]) {
				cut = i
				break
			}
		}
		if p := strings.TrimSpace(string(r[:cut])); p != "" {
			out = append(out, p)
		}
		r = r[cut:]
	}
	if p := strings.TrimSpace(string(r)); p != "" {
		out = append(out, p)
	}
	return out
}

// sendCloud sends a notice's SMS through a cloud provider. Parts already
// sent (an earlier try of the same job) are not sent again. A temporary
// error retries the job with backoff; a permanent one (or too many tries)
// puts the provider's code and what it means on the conversation.
func (g *Gateway) sendCloud(ctx context.Context, j queue.Job, n notice) {
	log := g.log.With(zap.String("contact", n.TN), zap.String("path", n.Via), zap.String("to", channels.MaskPhone(n.To)))
	snd, cfg := g.senders[n.Via], g.c.sender(n.Via)
	// All the notice's SMS are one for delivery reports: delivered when
	// every one is, failed when any is (after a failure to send one, the
	// rest are never reported delivered: the desk has the failure).
	tr := g.tracker.start(n.TN, len(n.SMS), "job:"+j.ID)
	var ids []string
	var err error
	if snd == nil {
		err = &SendError{Provider: n.Via, Code: "NotConfigured", Message: "this path no longer sends"}
	}
	for i, sms := range n.SMS {
		if err != nil {
			break
		}
		key := "sent:" + j.ID + ":" + strconv.Itoa(i)
		if id, _ := g.memo.get(ctx, key); id != "" {
			ids = append(ids, id)
			continue
		}
		var id string
		id, err = snd.send(ctx, n.To, cfg.template(sms.Kind), sms.Values, n.TN)
		if err != nil {
			break
		}
		if err := g.memo.set(ctx, key, id, sentTTL); err != nil {
			log.Warn("sent part not remembered; a retry may send it twice", zap.Error(err))
		}
		g.tracker.add(tr, n.Via+":"+id)
		ids = append(ids, id)
	}
	if err != nil && temporary(err) && j.Tries < noticeTries {
		wait := min(g.backoff<<min(j.Tries-1, 10), noticeMaxBackoff)
		log.Info("SMS not sent; trying again", zap.Duration("in", wait), zap.Int("try", j.Tries), zap.Error(err))
		_ = g.box.Retry(ctx, j.ID, wait)
		return
	}
	var m queue.Message
	switch {
	case err != nil:
		log.Warn("SMS not sent", zap.Error(err))
		m = queue.Message{ID: errCode(err), From: queue.FromSystem, Kind: "event", Text: failureText(n, err, j.Tries),
			Status: "failed"}
	case !n.Reply:
		m = queue.Message{ID: joinIDs(ids), From: queue.FromSystem, Kind: "text", Text: n.Text, Status: "sent"}
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if m.Status != "" {
		if err := g.q.AddMessage(rctx, n.TN, m); err != nil {
			log.Warn("SMS status not recorded", zap.Error(err))
		}
	}
	if err := g.box.Done(rctx, j.ID); err != nil {
		log.Warn("notice not cleared from the outbox; it may be sent twice", zap.Error(err))
	}
}

func errCode(err error) string {
	if se, ok := err.(*SendError); ok {
		return se.Provider + ":" + se.Code
	}
	return ""
}

// failureText is what the desk shows for an SMS that did not go out.
func failureText(n notice, err error, tries int) string {
	what := "受理短信未发出"
	if n.Reply {
		what = "回复短信未发出"
	} else if len(n.SMS) > 0 && n.SMS[0].Kind == "emergency" {
		what = "紧急提示短信未发出"
	}
	why := "发送失败"
	if se, ok := err.(*SendError); ok {
		why = se.Chinese()
	}
	if temporary(err) {
		return fmt.Sprintf("%s（%s；已重试 %d 次，不再重试）", what, why, tries)
	}
	return fmt.Sprintf("%s（%s）", what, why)
}
