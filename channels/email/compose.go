package email

import (
	"bytes"
	"strings"

	"github.com/emersion/go-message/mail"
	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
)

// outMail is a message we send to a citizen.
type outMail struct {
	TN        string
	To        string
	ToName    string
	Subject   string
	Body      string
	InReplyTo string
	// Auto marks an automatic answer (RFC 3834), so that the citizen's
	// mailer does not auto-reply in turn.
	Auto bool
}

// ackFor is the acknowledgement of a letter: the tracking number
// (channels.Ack, or channels.JoinedAck for a letter that joined an open
// contact), and what to do at once in an emergency.
func ackFor(in queue.Intake, tn, msgID, emergency string, joined bool) outMail {
	var b strings.Builder
	if adv := channels.EmergencyAdvice(emergency); adv != "" {
		b.WriteString(adv + "\n\n")
	}
	subject := "【12345】来信已受理 受理编号 " + tn
	if joined {
		b.WriteString(channels.JoinedAck(tn) + "\n")
		subject = "【12345】来信已补充到您的诉求 受理编号 " + tn
	} else {
		b.WriteString(channels.Ack(tn) + "\n")
	}
	if in.LineName != "" {
		b.WriteString("\n来信信箱：" + in.LineName + "\n")
	}
	if in.Subject != "" {
		b.WriteString("来信主题：" + in.Subject + "\n")
	}
	b.WriteString("\n此邮件由系统自动发送，请勿直接回复。如需补充材料，请再次发信至同一信箱。\n")
	return outMail{TN: tn, To: in.Citizen.Email, ToName: in.Citizen.Name, Subject: subject,
		Body: b.String(), InReplyTo: msgID, Auto: true}
}

// replyFor is an agent's reply to a contact.
func replyFor(c *queue.Contact, text, msgID string) outMail {
	subject := c.Subject
	if subject == "" {
		subject = "您的来信"
	}
	if !strings.HasPrefix(strings.ToLower(subject), "re:") && !strings.HasPrefix(subject, "回复：") {
		subject = "Re: " + subject
	}
	body := strings.TrimSpace(text) + "\n\n——\n受理编号 " + c.TrackingNo + "，可凭此编号查询办理进度。【12345】\n"
	return outMail{TN: c.TrackingNo, To: c.Citizen.Email, ToName: c.Citizen.Name,
		Subject: subject + "（受理编号 " + c.TrackingNo + "）", Body: body, InReplyTo: msgID}
}

// compose writes m as a UTF-8 text/plain message, base64 encoded, its
// headers RFC 2047 encoded.
func (s *Server) compose(m outMail) ([]byte, error) {
	var h mail.Header
	h.SetDate(s.now())
	h.SetAddressList("From", []*mail.Address{{Name: s.o.Relay.FromName, Address: s.o.Relay.From}})
	h.SetAddressList("To", []*mail.Address{{Name: m.ToName, Address: m.To}})
	h.SetSubject(m.Subject)
	_, domain, _ := strings.Cut(s.o.Relay.From, "@")
	if err := h.GenerateMessageIDWithHostname(domain); err != nil {
		return nil, err
	}
	if m.InReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{m.InReplyTo})
		h.SetMsgIDList("References", []string{m.InReplyTo})
	}
	if m.Auto {
		h.Set("Auto-Submitted", "auto-replied")
	}
	h.Set("X-Lianxin-Tracking-No", m.TN)
	h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	h.Set("Content-Transfer-Encoding", "base64")
	var buf bytes.Buffer
	w, err := mail.CreateSingleInlineWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write([]byte(m.Body)); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if s.signer != nil {
		return s.signer.sign(buf.Bytes())
	}
	return buf.Bytes(), nil
}
