package wechat

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseMessage: any body either fails with a fieldError naming a
// field, or reads to a push whose text, key and ids are fit for the queue;
// a passive reply to it is well-formed XML that carries the text back.
func FuzzParseMessage(f *testing.F) {
	for _, dir := range []string{"testdata/messages", "testdata/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseXML(body)
		if err != nil {
			checkFieldError(t, err)
			return
		}
		p, err := m.read("cd12345")
		if err != nil {
			checkFieldError(t, err)
			return
		}
		if p.from == "" || !utf8.ValidString(p.text) || utf8.RuneCountInString(p.text) > maxTextRunes {
			t.Fatalf("bad push: %+v", p)
		}
		if p.contact && (p.text == "" || !strings.HasPrefix(p.idemKey, "wechat:cd12345:") || len(p.idemKey) > 300) {
			t.Fatalf("a contact without text or key: %+v", p)
		}
		if p.location != nil && (p.location.Lat < -90 || p.location.Lat > 90 || p.location.Lng < -180 || p.location.Lng > 180) {
			t.Fatalf("location out of range: %+v", p.location)
		}
		reply := textReply(p.from, m.ToUserName, 1, p.text)
		var back struct {
			ToUserName string
			Content    string
		}
		if err := xml.Unmarshal(reply, &back); err != nil {
			t.Fatalf("reply is not XML: %v\n%s", err, reply)
		}
		if back.ToUserName != p.from || back.Content != p.text {
			t.Fatalf("reply does not carry %q back: %q", p.text, back.Content)
		}
	})
}

func checkFieldError(t *testing.T, err error) {
	t.Helper()
	fe, ok := err.(*fieldError)
	if !ok || fe.field == "" || fe.msg == "" {
		t.Fatalf("error does not name a field: %#v", err)
	}
}

func TestCDATASplitsItsEnd(t *testing.T) {
	var back struct{ Content string }
	reply := textReply("o", "gh", 1, "a]]>b<![CDATA[c")
	if err := xml.Unmarshal(reply, &back); err != nil || back.Content != "a]]>b<![CDATA[c" {
		t.Fatalf("%v %q", err, back.Content)
	}
}
