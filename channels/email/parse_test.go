package email

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// parserOnly is a Server for parsing alone, with small limits.
func parserOnly(t testing.TB) *Server {
	t.Helper()
	blobs, err := blobstore.NewDir(t.TempDir())
	require.NoError(t, err)
	rdb := queuetest.Miniredis(t).Client(t)
	q, err := queue.New(rdb, queue.Options{NodeID: "t", Queues: []queue.Def{{Name: "general"}}})
	require.NoError(t, err)
	s, err := New(Params{Options: Options{MaxAttachments: 3, MaxAttachmentBytes: 64 << 10, MaxParts: 20,
		MaxMessageBytes: 1 << 20}, Lookup: lookup, Queue: q, Blobs: blobs})
	require.NoError(t, err)
	return s
}

func parseBytes(t testing.TB, s *Server, b []byte) (*letter, error) {
	return s.parse(ctx(t), bytes.NewReader(b), func() error { return nil })
}

func TestHTMLSanitised(t *testing.T) {
	s := parserOnly(t)
	l, err := parseBytes(t, s, corpus(t, "alternative-hostile.eml"))
	require.NoError(t, err)
	require.Equal(t, "市长您好，建议增加夜班公交。谢谢", l.Text, "text/plain is preferred")
	checkSafeHTML(t, l.HTML)
	require.Contains(t, l.HTML, `<a href="https://www.chengdu.gov.cn/" rel="nofollow noreferrer noopener" target="_blank">政府网站</a>`)
	require.Contains(t, l.HTML, "<b>建议</b>")
	for _, bad := range []string{"evil.example", "tracker.example", "javascript", "alert", "url(", "<img", "<iframe",
		"<form", "<input", "<svg", "style"} {
		require.NotContains(t, l.HTML, bad)
	}
}

func TestAttachments(t *testing.T) {
	s := parserOnly(t)
	l, err := parseBytes(t, s, corpus(t, "attachments.eml"))
	require.NoError(t, err)
	var got []string
	for _, a := range l.Attachments {
		got = append(got, a.Name+" "+a.Type)
		require.Len(t, a.SHA256, 64)
		require.Positive(t, a.Size)
	}
	require.Equal(t, []string{"attachment-1 image/gif", "现场照片.png image/png", "举报材料.pdf application/pdf"}, got,
		"names decoded (RFC 2047 GBK, RFC 2231 UTF-8), no path from the sender's machine, types from the bytes")
	require.Contains(t, l.HTML, `<img src="cid:logo@wu">`, "an inline image of the letter stays")
	require.NotContains(t, l.HTML, "tracker.example", "a remote image does not")
	require.Equal(t, "我要举报小区楼顶违章搭建，照片见附件。", l.Text, "HTML read as text when there is no text/plain")
}

func TestMissingClosingBoundary(t *testing.T) {
	l, err := parseBytes(t, parserOnly(t), []byte("From: a@example.cn\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"+
		"--q\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n路面塌陷\r\n"))
	require.NoError(t, err)
	require.Equal(t, "路面塌陷", l.Text)
}

func TestHeaderDecoding(t *testing.T) {
	for raw, want := range map[string]string{
		"=?GB2312?B?wrfDxbu1wcs=?=":        "路门坏了",
		"\xc2\xb7\xb5\xc6":                 "路灯",
		"=?gbk?Q?=CD=F5=86=B4?=":           "王喆",
		"=?x-unknown?B?AAAA?=":             "=?x-unknown?B?AAAA?=",
		"Re: =?UTF-8?B?5aSN?= \xd5\xd4":    "Re: 复 赵",
		"=?GB18030?B?" + "lTSyNQ==" + "?=": "𠮷",
		"plain ascii":                      "plain ascii",
		"\xff\xfe":                         "\uFFFD\uFFFD",
		"=?big5?B?pc6k4Q==?=":              "用戶",
	} {
		got := headerText(raw)
		require.True(t, utf8.ValidString(got))
		if want != "\uFFFD\uFFFD" {
			require.Equal(t, want, got, "%q", raw)
		}
	}
	a, ok := headerAddress("\xcb\xef\xc6\xdf <SunQi@Example.cn>")
	require.True(t, ok)
	require.Equal(t, "孙七", a.Name)
	require.Equal(t, "SunQi@Example.cn", a.Address)
}

// checkSafeHTML fails when h holds anything that could run or fetch.
func checkSafeHTML(t testing.TB, h string) {
	t.Helper()
	if strings.Contains(strings.ToLower(h), "<script") {
		t.Fatalf("script in sanitised HTML: %q", h)
	}
	z := html.NewTokenizer(strings.NewReader(h))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, more := z.TagName()
		switch string(name) {
		case "script", "style", "iframe", "object", "embed", "form", "input", "svg", "math", "link", "meta", "base":
			t.Fatalf("<%s> in sanitised HTML: %q", name, h)
		}
		for more {
			var k, v []byte
			k, v, more = z.TagAttr()
			key, val := strings.ToLower(string(k)), strings.ToLower(strings.TrimSpace(string(v)))
			switch {
			case strings.HasPrefix(key, "on"), key == "style", key == "srcset", key == "background":
				t.Fatalf("attribute %s in sanitised HTML: %q", key, h)
			case key == "src" && !strings.HasPrefix(val, "cid:"):
				t.Fatalf("remote or inline-data image %q in sanitised HTML: %q", val, h)
			case key == "href" && !safeLink(val):
				t.Fatalf("link %q in sanitised HTML: %q", val, h)
			}
		}
	}
}

// safeLink: an absolute http, https, mailto or cid URL.
func safeLink(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "mailto" || u.Scheme == "cid")
}

// FuzzParse reads arbitrary messages: never a panic; either a refusal that
// is the sender's fault (malformed, too large) or a letter whose text is
// valid UTF-8, whose HTML is safe and whose attachments are within limits.
func FuzzParse(f *testing.F) {
	s := parserOnly(f)
	files, _ := filepath.Glob("testdata/*.eml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a--"))
	f.Add([]byte("Subject: =?utf-8?q?=E4=BD?=\r\nContent-Type: text/html\r\n\r\n<p onclick=x>\xd6\xd0<scr<script>ipt>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parseBytes(t, s, b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("refused for a reason not the sender's: %v", err)
			}
			return
		}
		for _, v := range []string{l.Text, l.Subject, l.HTML, l.MessageID} {
			if !utf8.ValidString(v) {
				t.Fatalf("not UTF-8: %q", v)
			}
		}
		checkSafeHTML(t, l.HTML)
		if len(l.Attachments) > s.o.MaxAttachments {
			t.Fatalf("%d attachments", len(l.Attachments))
		}
		for _, a := range l.Attachments {
			if a.Size <= 0 || a.Size > s.o.MaxAttachmentBytes || len(a.SHA256) != 64 || !utf8.ValidString(a.Name) {
				t.Fatalf("bad attachment %+v", a)
			}
		}
		if l.Parts > s.o.MaxParts {
			t.Fatalf("%d parts", l.Parts)
		}
	})
}

// FuzzHeader decodes arbitrary header values: always valid UTF-8, and an
// address only when it has an @.
func FuzzHeader(f *testing.F) {
	for _, s := range []string{"=?GB2312?B?wrfDxbu1wcs=?=", "\xc2\xb7\xb5\xc6 <a@b.cn>", "=?gbk?Q?=CD=F5?= <x@y>",
		"\"=?utf-8?b?5aSN?=\" <a@b>", "<a@b>, c@d", "=?=?=?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if s := headerText(raw); !utf8.ValidString(s) {
			t.Fatalf("headerText(%q) = %q", raw, s)
		}
		if a, ok := headerAddress(raw); ok && (!strings.Contains(a.Address, "@") || !utf8.ValidString(a.Name)) {
			t.Fatalf("headerAddress(%q) = %+v", raw, a)
		}
		if id := messageID(raw); strings.ContainsAny(id, "<> \r\n") {
			t.Fatalf("messageID(%q) = %q", raw, id)
		}
	})
}

// FuzzSanitize runs arbitrary HTML through the sanitiser and the reader.
func FuzzSanitize(f *testing.F) {
	p := newSanitizer()
	for _, s := range []string{`<img src=x onerror=alert(1)>`, `<a href="javascript:alert(1)">x</a>`,
		`<p style="background:url(http://e)">`, `<svg><script>alert(1)</script>`, `<IMG SRC="cid:a" ONLOAD=x>`,
		`<a href="&#106;avascript:x">`, `<scr<script>ipt>alert(1)</script>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		out := p.Sanitize(h)
		checkSafeHTML(t, out)
		if txt := htmlText(out); !utf8.ValidString(txt) && utf8.ValidString(h) {
			t.Fatalf("text of %q is not UTF-8", h)
		}
	})
}
