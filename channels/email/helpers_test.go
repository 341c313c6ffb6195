package email

import (
	"bytes"
	"errors"
	"io"
	"net/mail"
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// send delivers data to e's listener with go-smtp's client, as a sending
// mail server would.
func send(t testing.TB, e *env, from string, to []string, data []byte) error {
	t.Helper()
	c, err := smtp.Dial(e.addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello("sender.test"))
	return c.SendMail(from, to, bytes.NewReader(data))
}

// smtpCode is the reply code of a refusal, 0 for another error.
func smtpCode(err error) (int, smtp.EnhancedCode) {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code, se.EnhancedCode
	}
	return 0, smtp.EnhancedCode{}
}

// out is a message the fake relay received, decoded.
type out struct {
	relayed
	Subject   string
	InReplyTo string
	TN        string
	Body      string
	Auto      string
}

func decodeOut(t testing.TB, r relayed) out {
	t.Helper()
	mr, err := gomail.CreateReader(bytes.NewReader(r.Data))
	require.NoError(t, err)
	o := out{relayed: r, TN: mr.Header.Get("X-Lianxin-Tracking-No"), Auto: mr.Header.Get("Auto-Submitted")}
	o.Subject, err = mr.Header.Subject()
	require.NoError(t, err)
	ids, _ := mr.Header.MsgIDList("In-Reply-To")
	if len(ids) > 0 {
		o.InReplyTo = ids[0]
	}
	p, err := mr.NextPart()
	require.NoError(t, err)
	b, err := io.ReadAll(p.Body)
	require.NoError(t, err)
	o.Body = string(b)
	return o
}

// waitMail waits for the relay to hold a message that match accepts.
func waitMail(t testing.TB, r *fakeRelay, match func(out) bool) out {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		for _, m := range r.messages() {
			if o := decodeOut(t, m); match(o) {
				return o
			}
		}
		select {
		case <-r.arrived:
		case <-deadline:
			t.Fatal(errNoMail)
		}
	}
}

// ackOf waits for the acknowledgement of the letter with msgID.
func ackOf(t testing.TB, r *fakeRelay, msgID string) out {
	t.Helper()
	return waitMail(t, r, func(o out) bool { return o.InReplyTo == msgID && o.Auto != "" })
}

func msgIDOf(t testing.TB, data []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	require.NoError(t, err)
	return strings.Trim(m.Header.Get("Message-ID"), "<>")
}

// fromDomainOf is the domain of the letter's From address.
func fromDomainOf(t testing.TB, data []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	require.NoError(t, err)
	a, ok := headerAddress(m.Header.Get("From"))
	require.True(t, ok, "From: %s", m.Header.Get("From"))
	return domainOf(a.Address)
}
