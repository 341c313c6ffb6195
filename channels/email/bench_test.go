package email

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"
	"github.com/lianxin/lianxin/queue/queuetest"
)

// letterWithAttachment is a GBK letter with a 1 MB attachment; %d becomes
// the Message-ID's number.
func letterWithAttachment(b *testing.B) string {
	att := make([]byte, 1<<20)
	_, _ = rand.Read(att)
	enc := base64.StdEncoding.EncodeToString(att)
	var body bytes.Buffer
	for i := 0; i < len(enc); i += 76 {
		body.WriteString(enc[i:min(i+76, len(enc))] + "\r\n")
	}
	return "From: =?GBK?B?1cXI/Q==?= <zhangsan@example.cn>\r\nTo: " + boxAddr + "\r\n" +
		"Subject: =?GB2312?B?wrfDxbu1wcs=?=\r\nMessage-ID: <bench.%d@example.cn>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=gb2312\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\nytCzpMT6usOjrMK3tcbSu9axsrvBwaGj\r\n--b\r\n" +
		"Content-Type: image/jpeg\r\nContent-Disposition: attachment; filename=\"photo.jpg\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + body.String() + "--b--\r\n"
}

// BenchmarkLetterWith1MBAttachment: letters per second, end to end: SMTP
// over loopback, MIME, the attachment into the blob store (synced), the
// contact into a real redis-server. Each sender keeps one connection, as a
// sending mail server does.
func BenchmarkLetterWith1MBAttachment(b *testing.B) {
	benchLetters(b, false)
}

// BenchmarkSignedLetterWith1MBAttachment is the same with every letter
// DKIM-signed (RSA 2048, relaxed) and its key in the resolver: the cost of
// verifying a signature over a 1 MB body as it arrives.
func BenchmarkSignedLetterWith1MBAttachment(b *testing.B) {
	benchLetters(b, true)
}

func benchLetters(b *testing.B, signed bool) {
	e := start(b, queuetest.RedisServer(b), nil, nil)
	tmpl := letterWithAttachment(b)
	if signed {
		// Signed once, without Message-ID, which then varies per letter.
		key, rec := dkimKey(b)
		e.dns.set("sel._domainkey.example.cn", rec)
		var out bytes.Buffer
		if err := dkim.Sign(&out, strings.NewReader(tmpl), &dkim.SignOptions{Domain: "example.cn", Selector: "sel",
			Signer: key, HeaderKeys: []string{"From", "To", "Subject", "MIME-Version", "Content-Type"},
			HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed}); err != nil {
			b.Fatal(err)
		}
		tmpl = out.String()
	}
	var n atomic.Int64
	b.SetBytes(int64(len(tmpl)))
	b.SetParallelism(2) // 2 senders per core
	b.ResetTimer()
	t0 := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c, err := smtp.Dial(e.addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		for pb.Next() {
			msg := []byte(fmt.Sprintf(tmpl, n.Add(1)))
			if err := c.SendMail("zhangsan@example.cn", []string{boxAddr}, bytes.NewReader(msg)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "letters/s")
	b.StopTimer()
	if c := contactBySubject(b, e, "路门坏了"); signed && c.SenderAuth.DKIM.Result != "pass" {
		b.Fatalf("the signature did not verify: %+v", c.SenderAuth)
	}
}
