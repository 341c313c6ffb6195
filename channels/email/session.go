package email

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync/atomic"

	"github.com/emersion/go-smtp"
	"github.com/lianxin/lianxin/channels"
	"go.uber.org/zap"
)

// session is one SMTP connection's state: the envelope of the message
// being received.
type session struct {
	s *Server
	// base is the context letters are stored under: it outlives the
	// listener's shutdown, so that a letter being received may finish.
	base   context.Context
	busy   *atomic.Int64
	conn   *smtp.Conn
	raw    net.Conn // the accepted connection (under STARTTLS's)
	log    *zap.Logger
	from   string
	hasMsg bool
	boxes  []channels.Mailbox
}

var _ smtp.Session = (*session)(nil)

func (ss *session) Reset() {
	ss.from, ss.hasMsg, ss.boxes = "", false, nil
}

func (ss *session) Logout() error { return nil }

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.Reset()
	ss.from, ss.hasMsg = from, true
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !ss.hasMsg {
		return replyNoSender
	}
	a, err := mail.ParseAddress("<" + to + ">")
	if err != nil {
		return replyBadRcpt(to)
	}
	box, ok := ss.s.lookup(strings.ToLower(a.Address))
	if !ok {
		ss.log.Info("unknown recipient", zap.String("to", channels.MaskEmail(a.Address)))
		return replyUnknownRcpt(a.Address)
	}
	for _, b := range ss.boxes {
		if b.ID == box.ID {
			return nil
		}
	}
	ss.boxes = append(ss.boxes, box)
	return nil
}

// Data reads the letter, stores its attachments, and queues one contact
// per mailbox. Only when every one is durably in Redis does the sender get
// 250; otherwise the reply says whether retrying can help.
func (ss *session) Data(r io.Reader) error {
	ss.busy.Add(1)
	defer ss.busy.Add(-1)
	if !ss.s.receiving.TryAcquire() {
		// go-smtp reads the rest of the letter to nothing; the sender's
		// server tries again later.
		return ss.refuse(replyBusy)
	}
	defer ss.s.receiving.Release()
	setBusy(ss.raw, true)
	defer setBusy(ss.raw, false)
	// Attachments are stored while the message arrives, which ReadTimeout
	// bounds; storing the contact then has ProcessTimeout of its own.
	pctx, cancel := context.WithTimeout(ss.base, ss.s.o.ReadTimeout+ss.s.o.ProcessTimeout)
	defer cancel()
	h := sha256.New()
	src := &errReader{r: r}
	dk := ss.s.startDKIM(pctx)
	defer dk.finish(errAbandoned) // whatever happens, the verifier ends with the letter
	w := io.MultiWriter(h, dk)
	l, err := ss.s.parse(pctx, io.TeeReader(src, w), func() error { return src.err })
	if err == nil {
		_, err = io.Copy(w, src) // the rest (an epilogue) still counts in the hash
	}
	if l != nil {
		defer l.discard() // a refused letter's files go; committed ones stay
	}
	verdicts := dk.finish(err)
	if err != nil {
		return ss.refuse(err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	auth := ss.s.checkSender(pctx, ss.envelope(), domainOf(replyAddress(l, ss.from)), verdicts)
	ctx, cancel := context.WithTimeout(ss.base, ss.s.o.ProcessTimeout)
	defer cancel()
	for _, box := range ss.boxes {
		if err := ss.s.deliver(ctx, l, box, ss.from, sum, auth); err != nil {
			return ss.refuse(err)
		}
	}
	return nil
}

// envelope is the sending server's address, HELO name and MAIL FROM.
func (ss *session) envelope() envelope {
	e := envelope{helo: ss.conn.Hostname(), mailFrom: ss.from}
	if a, ok := ss.conn.Conn().RemoteAddr().(*net.TCPAddr); ok {
		e.ip = a.IP
	}
	return e
}

func (ss *session) refuse(err error) error {
	reply := smtpError(err)
	lvl := ss.log.Info
	if reply.Temporary() {
		lvl = ss.log.Warn
	}
	lvl("letter refused", zap.Int("code", reply.Code), zap.String("reply", reply.Message), zap.Error(err))
	return reply
}

// errorLog passes go-smtp's own messages to zap.
type errorLog struct{ log *zap.Logger }

func (e errorLog) Printf(format string, v ...any) { e.log.Sugar().Infof(format, v...) }
func (e errorLog) Println(v ...any)               { e.log.Sugar().Info(v...) }

var _ smtp.Logger = errorLog{}
