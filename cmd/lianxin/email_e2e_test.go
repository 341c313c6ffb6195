package main

import (
	"crypto/tls"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"

	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// An e-mail in GB2312 to a leader mailbox's address reaches the desk as a
// letter, with its Chinese subject and text intact; mail to an unknown
// address is refused with 550 5.1.1.
func TestEmailThroughTheDesk(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a")
	addr := n.smtp
	d := desk(t, n.base, "1001")
	send(t, d, "ready", nil)

	c, err := smtp.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Mail("wang@example.cn"))
	err = c.Rcpt("nobody@mail.12345.chengdu.gov.cn")
	require.Error(t, err)
	var perr *textproto.Error
	require.ErrorAs(t, err, &perr)
	require.Equal(t, 550, perr.Code)
	require.True(t, strings.HasPrefix(perr.Msg, "5.1.1 "), perr.Msg)
	require.NoError(t, c.Reset())

	// "关于小区噪音的投诉" and its text, in GB2312 (base64 and quoted-printable).
	msg := "From: =?GB2312?B?zfXO5Q==?= <wang@example.cn>\r\n" +
		"To: cd-city-0002@mail.12345.chengdu.gov.cn\r\n" +
		"Subject: =?GB2312?B?udjT2tChx/jU69L0tcTNtsvf?=\r\n" +
		"Message-ID: <e2e-1@example.cn>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=GB2312\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"=D2=B9=BC=E4=D4=EB=D2=F4=BA=DC=B4=F3=A1=A3\r\n"
	require.NoError(t, c.Mail("wang@example.cn"))
	require.NoError(t, c.Rcpt("CD-CITY-0002@mail.12345.chengdu.gov.cn"))
	w, err := c.Data()
	require.NoError(t, err)
	_, err = w.Write([]byte(msg))
	require.NoError(t, err)
	require.NoError(t, w.Close())

	offer := next(t, d, "offer").Object()
	require.Equal(t, "mailbox", offer.Channel)
	require.Equal(t, "cd-city-0002", offer.Line)
	require.Equal(t, "关于小区噪音的投诉", offer.Subject)
	require.Equal(t, "夜间噪音很大。", strings.TrimSpace(offer.Text))
	// Nothing in this machine's DNS vouches for example.cn: the letter is
	// taken, and the desk says why its sender got no acknowledgement.
	require.NotNil(t, offer.SenderAuth, "the desk gets the sender check")
	require.False(t, offer.SenderAuth.Authenticated)
	require.Equal(t, "example.cn", offer.SenderAuth.DMARC.Domain)
	require.Contains(t, offer.SenderAuth.Note, "发件人未通过验证")
	require.Contains(t, offer.SenderAuth.Note, "未发送受理回执")
}

// The node's SMTP listener offers STARTTLS with the self-signed pair it
// made at start, and takes a letter over it.
func TestEmailSTARTTLS(t *testing.T) {
	t.Parallel()
	s := queuetest.Miniredis(t)
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) { c.SMTP.Domain = "mx.test" })
	addr := n.smtp
	d := desk(t, n.base, "1001")
	send(t, d, "ready", nil)
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	c, err := smtp.NewClient(conn, "mx.test")
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello("sender.test"))
	ok, _ := c.Extension("STARTTLS")
	require.True(t, ok)
	require.NoError(t, c.StartTLS(&tls.Config{InsecureSkipVerify: true})) //nolint:gosec // checked below
	st, ok := c.TLSConnectionState()
	require.True(t, ok)
	require.Equal(t, []string{"mx.test"}, st.PeerCertificates[0].DNSNames, "self-signed for smtp.domain")
	require.NoError(t, c.Mail("li@example.cn"))
	require.NoError(t, c.Rcpt("cd-city-0002@mail.12345.chengdu.gov.cn"))
	w, err := c.Data()
	require.NoError(t, err)
	_, err = w.Write([]byte("From: li@example.cn\r\nSubject: TLS\r\nMessage-ID: <e2e-tls@example.cn>\r\n\r\nhello\r\n"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.Equal(t, "TLS", next(t, d, "offer").Object().Subject)
}
