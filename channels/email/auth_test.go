package email

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// dkimKey makes an RSA key and the TXT record that publishes it.
func dkimKey(t testing.TB) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return key, dkimRecord(t, &key.PublicKey)
}

func dkimRecord(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
}

// dkimSign signs msg as the sending domain's server would.
func dkimSign(t testing.TB, key crypto.Signer, domain, selector string, msg []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, dkim.Sign(&b, bytes.NewReader(msg), &dkim.SignOptions{Domain: domain, Selector: selector,
		Signer: key, HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed}))
	return b.Bytes()
}

// plainLetter is a small UTF-8 letter from from.
func plainLetter(from, msgID, subject string) []byte {
	return []byte("From: " + from + "\r\nTo: " + boxAddr + "\r\nSubject: " + subject + "\r\nMessage-ID: <" + msgID +
		">\r\nDate: Mon, 30 Nov 2026 10:00:00 +0800\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"市长您好：\r\n小区门口的路灯坏了，请派人修理。\r\n")
}

// contactBySubject finds the contact a letter became, acknowledged or not.
func contactBySubject(t testing.TB, e *env, subject string) *queue.Contact {
	t.Helper()
	keys, err := e.rdb.Keys(ctx(t), "{lianxin}:c:*").Result()
	require.NoError(t, err)
	for _, k := range keys {
		tn := strings.TrimPrefix(k, "{lianxin}:c:")
		if !queue.ValidTrackingNo(tn) {
			continue
		}
		c, err := e.q.Contact(ctx(t), tn)
		require.NoError(t, err)
		if c.Subject == subject {
			return c
		}
	}
	t.Fatalf("no contact with subject %q", subject)
	return nil
}

// TestSenderAuth: every letter is taken; its sender's SPF, DKIM and DMARC
// results are on the contact; only an authenticated sender gets the
// acknowledgement, and the note tells the agent why one did not.
func TestSenderAuth(t *testing.T) {
	e := start(t, queuetest.RedisServer(t), newFakeRelay(t), func(o *Options) { o.Relay.Workers = 1 })
	key, rec := dkimKey(t)
	e.dns.set("sel._domainkey.signed.example", rec)
	e.dns.set("_dmarc.signed.example", "v=DMARC1; p=reject")
	e.dns.set("list.example", "v=spf1 -all") // a mailing list whose server is not loopback
	e.dns.set("_dmarc.bank.example", "v=DMARC1; p=reject; rua=mailto:dmarc@bank.example")
	e.dns.set("bank.example", "v=spf1 ip4:192.0.2.1 -all")
	e.dns.fail("flaky.example")
	e.dns.fail("_dmarc.flaky.example")
	e.dns.set("_dmarc.aligned.example", "v=DMARC1; p=quarantine")
	e.dns.set("_dmarc.strict.example", "v=DMARC1; p=reject; aspf=s")
	check := func(r, d string) queue.AuthCheck { return queue.AuthCheck{Result: r, Domain: d} }
	for i, tc := range []struct {
		name, mailFrom, from string
		edit                 func([]byte) []byte
		spf, dkim, dmarc     queue.AuthCheck
		ok                   bool
		note                 string
	}{
		{name: "forged From, DMARC p=reject", mailFrom: "x@forged.example", from: "boss@bank.example",
			spf: check("pass", "forged.example"), dkim: check("none", ""), dmarc: check("fail", "bank.example"),
			note: "发件人未通过验证：SPF pass (forged.example)，DKIM none，DMARC fail (bank.example)"},
		{name: "forged envelope too", mailFrom: "boss@bank.example", from: "boss@bank.example",
			spf: check("fail", "bank.example"), dkim: check("none", ""), dmarc: check("fail", "bank.example"),
			note: "SPF fail (bank.example)"},
		{name: "DKIM-signed, through a list", mailFrom: "bounce@list.example", from: "li@signed.example",
			edit: func(m []byte) []byte { return dkimSign(t, key, "signed.example", "sel", m) },
			spf:  check("fail", "list.example"), dkim: check("pass", "signed.example"), dmarc: check("pass", "signed.example"),
			ok: true, note: "发件人已验证：DMARC pass (signed.example)"},
		{name: "signature broken on the way", mailFrom: "bounce@list.example", from: "li@signed.example",
			edit: func(m []byte) []byte {
				return bytes.Replace(dkimSign(t, key, "signed.example", "sel", m), []byte("修理"), []byte("修好"), 1)
			},
			spf: check("fail", "list.example"), dkim: check("fail", "signed.example"), dmarc: check("fail", "signed.example"),
			note: "DKIM fail (signed.example)"},
		{name: "signed by a key nobody published", mailFrom: "bounce@list.example", from: "li@signed.example",
			edit: func(m []byte) []byte { return dkimSign(t, key, "signed.example", "old", m) },
			spf:  check("fail", "list.example"), dkim: check("fail", "signed.example"), dmarc: check("fail", "signed.example")},
		{name: "DNS down", mailFrom: "a@flaky.example", from: "a@flaky.example",
			spf: check("temperror", "flaky.example"), dkim: check("none", ""), dmarc: check("temperror", "flaky.example"),
			note: "SPF temperror (flaky.example)"},
		{name: "relaxed alignment", mailFrom: "bounce@mail.aligned.example", from: "wang@aligned.example",
			spf: check("pass", "mail.aligned.example"), dkim: check("none", ""), dmarc: check("pass", "aligned.example"), ok: true},
		{name: "strict alignment", mailFrom: "bounce@mail.strict.example", from: "wang@strict.example",
			spf: check("pass", "mail.strict.example"), dkim: check("none", ""), dmarc: check("fail", "strict.example")},
		{name: "organisational domain's policy", mailFrom: "x@forged.example", from: "boss@pay.bank.example",
			spf: check("pass", "forged.example"), dkim: check("none", ""), dmarc: check("fail", "pay.bank.example")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			subject := fmt.Sprintf("路灯 %d", i)
			msgID := fmt.Sprintf("auth.%d@test", i)
			// A citizen's next letter while the first is open joins it: one
			// citizen per case.
			data := plainLetter(fmt.Sprintf("u%d-%s", i, tc.from), msgID, subject)
			if tc.edit != nil {
				data = tc.edit(data)
			}
			require.NoError(t, send(t, e, tc.mailFrom, []string{boxAddr}, data), "taken whatever the checks say")
			c := contactBySubject(t, e, subject)
			require.NotNil(t, c.SenderAuth)
			a := *c.SenderAuth
			require.Equal(t, tc.spf, a.SPF, "SPF")
			require.Equal(t, tc.dkim, a.DKIM, "DKIM")
			require.Equal(t, tc.dmarc, a.DMARC, "DMARC")
			require.Equal(t, tc.ok, a.Authenticated)
			require.Contains(t, a.Note, tc.note)
			if !tc.ok {
				require.Contains(t, a.Note, "未发送受理回执")
			}
			// One worker sends in order, and an acknowledgement is queued
			// before the letter's 250: once a later letter's is out, this
			// one's would be too.
			probe := plainLetter("probe@example.cn", fmt.Sprintf("probe.%d@test", i), fmt.Sprintf("probe %d", i))
			require.NoError(t, send(t, e, "probe@example.cn", []string{boxAddr}, probe))
			ackOf(t, e.relay, fmt.Sprintf("probe.%d@test", i))
			var acked bool
			for _, m := range e.relay.messages() {
				acked = acked || decodeOut(t, m).InReplyTo == msgID
			}
			require.Equal(t, tc.ok, acked, "acknowledged only when authenticated")
		})
	}
}

// TestSenderAuthBadInputs: broken signatures are a fail, not a refusal; a
// letter refused for its MIME leaves no contact whatever its signatures;
// a botched TLS handshake is answered 550 and costs nothing else.
func TestSenderAuthBadInputs(t *testing.T) {
	e := start(t, queuetest.RedisServer(t), nil, func(o *Options) { o.MaxAttachments = 1 })
	garbage := append([]byte("DKIM-Signature: v=1; a=rsa-sha256; d=; b=!!!\r\n"), plainLetter("g@example.cn", "bad.1@test", "坏签名")...)
	many := append(bytes.Repeat([]byte("DKIM-Signature: v=1; a=rsa-sha256; d=example.cn; s=x; h=from; bh=AA==; b=AA==\r\n"), 20),
		plainLetter("m@example.cn", "bad.2@test", "多签名")...)
	for _, tc := range []struct {
		subject string
		data    []byte
	}{{"坏签名", garbage}, {"多签名", many}} {
		require.NoError(t, send(t, e, "x@forged.example", []string{boxAddr}, tc.data), tc.subject)
		c := contactBySubject(t, e, tc.subject)
		require.Equal(t, "fail", c.SenderAuth.DKIM.Result, tc.subject)
		require.False(t, c.SenderAuth.Authenticated)
	}

	key, rec := dkimKey(t)
	e.dns.set("sel._domainkey.signed.example", rec)
	two := []byte("From: li@signed.example\r\nSubject: 两个附件\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\n%PDF-1\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=b.pdf\r\n\r\n%PDF-2\r\n--b--\r\n")
	err := send(t, e, "li@signed.example", []string{boxAddr}, dkimSign(t, key, "signed.example", "sel", two))
	code, _ := smtpCode(err)
	require.Equal(t, 552, code, "%v", err)

	conn, err := net.Dial("tcp", e.addr)
	require.NoError(t, err)
	r := bufio.NewReader(conn)
	line, _ := r.ReadString('\n')
	require.Contains(t, line, "220")
	_, _ = conn.Write([]byte("EHLO sender.test\r\nSTARTTLS\r\n"))
	for !strings.HasPrefix(line, "220 2.0.0") {
		line, err = r.ReadString('\n')
		require.NoError(t, err)
	}
	// A TLS record has a type byte, a version and a length: this is none.
	_, _ = conn.Write([]byte("this is not a TLS ClientHello\r\n"))
	line, err = r.ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "550 5.0.0"), "go-smtp says the handshake failed: %q", line)
	require.NoError(t, conn.Close())

	require.NoError(t, send(t, e, "ok@example.cn", []string{boxAddr}, plainLetter("ok@example.cn", "bad.3@test", "之后")))
	require.True(t, contactBySubject(t, e, "之后").SenderAuth.Authenticated)
	keys, err := e.rdb.Keys(ctx(t), "{lianxin}:c:*").Result()
	require.NoError(t, err)
	n := 0
	for _, k := range keys {
		if queue.ValidTrackingNo(strings.TrimPrefix(k, "{lianxin}:c:")) {
			n++
		}
	}
	require.Equal(t, 3, n, "the refused letter left no contact")
}

// TestSenderAuthJoinedLetter: a letter that joins an open contact is
// checked on its own; when it fails, the conversation says so.
func TestSenderAuthJoinedLetter(t *testing.T) {
	// The domain publishes its DMARC policy between the two letters: the
	// second sees it at once only with no answer kept (a minute at most).
	e := start(t, queuetest.RedisServer(t), newFakeRelay(t), func(o *Options) { o.DNSCache = time.Nanosecond })
	first := plainLetter("wang@example.cn", "join.1@test", "噪音")
	require.NoError(t, send(t, e, "wang@example.cn", []string{boxAddr}, first))
	ack := ackOf(t, e.relay, "join.1@test")
	e.dns.set("_dmarc.example.cn", "v=DMARC1; p=reject")
	second := plainLetter("wang@example.cn", "join.2@test", "噪音（补充）")
	require.NoError(t, send(t, e, "x@forged.example", []string{boxAddr}, second))
	msgs, err := e.q.Messages(ctx(t), ack.TN)
	require.NoError(t, err)
	var notes []string
	for _, m := range msgs {
		if m.From == queue.FromSystem && strings.HasPrefix(m.Text, "发件人未通过验证") {
			notes = append(notes, m.Text)
		}
	}
	require.Len(t, notes, 1, "%+v", msgs)
	require.Contains(t, notes[0], "DMARC fail (example.cn)")
	c, err := e.q.Contact(ctx(t), ack.TN)
	require.NoError(t, err)
	require.True(t, c.SenderAuth.Authenticated, "the contact keeps its first letter's check")
}

// A letter that joins an open contact is acknowledged with
// channels.JoinedAck, as on every channel (issue 7, one intake path).
func TestJoinedLetterGetsJoinedAck(t *testing.T) {
	e := start(t, queuetest.RedisServer(t), newFakeRelay(t), nil)
	require.NoError(t, send(t, e, "wang@example.cn", []string{boxAddr}, plainLetter("wang@example.cn", "ja.1@test", "噪音")))
	first := ackOf(t, e.relay, "ja.1@test")
	require.Contains(t, first.Body, channels.Ack(first.TN))
	require.NoError(t, send(t, e, "wang@example.cn", []string{boxAddr}, plainLetter("wang@example.cn", "ja.2@test", "噪音（补充）")))
	second := ackOf(t, e.relay, "ja.2@test")
	require.Equal(t, first.TN, second.TN)
	require.Contains(t, second.Body, channels.JoinedAck(first.TN))
	require.Contains(t, second.Subject, "已补充")
}
