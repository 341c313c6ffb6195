package email

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// htmlName is the attachment holding a letter's sanitised HTML.
const htmlName = "letter.html"

// fullTextName is the attachment holding a text cut at MaxTextRunes.
const fullTextName = "letter.txt"

// intake turns a letter to box into an intake. sender is the envelope's
// MAIL FROM, used when the letter has no usable From.
func (s *Server) intake(ctx context.Context, l *letter, box channels.Mailbox, sender string) (queue.Intake, error) {
	in := queue.Intake{Channel: queue.ChannelMailbox, Line: box.ID, LineName: box.Name, Queue: box.Queue}
	addr, name := replyAddress(l, sender), ""
	if l.From != nil {
		name = l.From.Name
	}
	if addr == "" || len(addr) > 254 || !utf8.ValidString(addr) {
		return in, malformed("From: no sender address to answer to")
	}
	in.Citizen = queue.Citizen{Address: strings.ToLower(addr), Email: addr, Name: cut(oneLine(name), 50)}
	in.Subject = cut(oneLine(l.Subject), 200)
	in.Text = l.Text
	in.Attachments = append(in.Attachments, l.Attachments...)
	if utf8.RuneCountInString(in.Text) > s.o.MaxTextRunes {
		a, err := s.storeText(ctx, l, fullTextName, "text/plain; charset=utf-8", in.Text)
		if err != nil {
			return in, err
		}
		in.Attachments = append(in.Attachments, a)
		in.Text = cut(in.Text, s.o.MaxTextRunes) + "\n（正文过长，全文见附件 " + fullTextName + "）"
	}
	if l.HTML != "" {
		a, err := s.storeText(ctx, l, htmlName, "text/html; charset=utf-8", l.HTML)
		if err != nil {
			return in, err
		}
		in.Attachments = append(in.Attachments, a)
	}
	if in.Subject == "" {
		line, _, _ := strings.Cut(in.Text, "\n")
		in.Subject = cut(line, 30)
	}
	return in, nil
}

// replyAddress is where an answer to the letter goes: its From, else the
// envelope sender.
func replyAddress(l *letter, sender string) string {
	if l.From != nil && l.From.Address != "" {
		return l.From.Address
	}
	return sender
}

// storeText stages text as an attachment of l (committed with the rest).
func (s *Server) storeText(ctx context.Context, l *letter, name, typ, text string) (queue.Attachment, error) {
	st, err := s.blobs.Stage(ctx, strings.NewReader(text), int64(len(text)))
	if err != nil {
		return queue.Attachment{}, errors.Join(ErrUnavailable, err)
	}
	l.staged = append(l.staged, st)
	return queue.Attachment{Name: name, Type: typ, Size: st.Size, SHA256: st.SHA}, nil
}

// oneLine cleans a header's text and keeps it on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(channels.Clean(s)), " ")
}

// cut keeps the first n characters of s, marking a cut with "…".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// deliver queues a letter to one mailbox: triage, the contact, the
// supervisors' alert, the thread, the acknowledgement. rawSum names a
// letter without Message-ID; auth is how its sender checked out, and only
// an authenticated sender gets the acknowledgement.
func (s *Server) deliver(ctx context.Context, l *letter, box channels.Mailbox, sender, rawSum string,
	auth queue.SenderAuth) error {
	in, err := s.intake(ctx, l, box, sender)
	if err != nil {
		return err
	}
	in.SenderAuth = &auth
	in.ReceivedAt = s.now()
	key := "mail:" + box.ID + ":" + l.MessageID
	if l.MessageID == "" {
		key = "mail:" + box.ID + ":sha256:" + rawSum
	}
	// Triage, the alert, the conversation: channels.Take. Another letter
	// under a Message-ID already seen (a mailer that reuses ids) is a
	// letter all the same (ProviderKey).
	t, err := channels.Take(ctx, s.q, channels.Request{In: in, Key: key, Conversation: true, ProviderKey: true})
	rc := t.Receipt
	switch {
	case errors.Is(err, queue.ErrInvalid):
		return malformed("%v", err)
	case err != nil:
		return errors.Join(ErrUnavailable, err)
	}
	// A contact holds the letter (new, joined or a duplicate): its files
	// are stored now. If that fails the sender retries (451) and the
	// duplicate commits them.
	if err := l.commit(); err != nil {
		return errors.Join(ErrUnavailable, err)
	}
	log := s.log.With(zap.String("contact", rc.TrackingNo), zap.String("mailbox", box.ID))
	if s.threads != nil && l.MessageID != "" {
		if err := s.threads.Put(ctx, rc.TrackingNo, l.MessageID); err != nil {
			return errors.Join(ErrUnavailable, err)
		}
	}
	log.Info("letter queued", zap.String("from", channels.MaskEmail(in.Citizen.Address)),
		zap.Bool("duplicate", rc.Duplicate), zap.Bool("joined", rc.Joined), zap.String("emergency", t.Emergency),
		zap.Int("attachments", len(in.Attachments)), zap.Bool("authenticated", auth.Authenticated),
		zap.String("spf", auth.SPF.Result), zap.String("dkim", auth.DKIM.Result), zap.String("dmarc", auth.DMARC.Result))
	if rc.Duplicate {
		return nil // acknowledged the first time
	}
	if rc.Joined && !auth.Authenticated {
		// The contact shows its first letter's check; the agent learns of
		// this one's in the conversation.
		if err := s.q.AddMessage(ctx, rc.TrackingNo, queue.Message{From: queue.FromSystem, Kind: "text",
			Text: auth.Note}); err != nil {
			log.Warn("sender check not added to the conversation", zap.Error(err))
		}
	}
	if l.Auto || sender == "" {
		log.Info("no acknowledgement to automatic mail or a null sender")
		return nil
	}
	if !auth.Authenticated {
		log.Info("no acknowledgement: the sender is not authenticated", zap.String("note", auth.Note))
		return nil
	}
	s.out.ack(ctx, ackFor(in, rc.TrackingNo, l.MessageID, t.Emergency, rc.Joined))
	return nil
}
