package email

import (
	"errors"
	"io"
	"mime"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // GB2312, GBK, GB18030, Big5, … for bodies and encoded words
	"golang.org/x/text/encoding/simplifiedchinese"
)

var errUnknownCharset = errors.New("email: unknown charset")

// wordDecoder decodes RFC 2047 encoded words in any charset go-message knows.
var wordDecoder = &mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
	if message.CharsetReader == nil {
		return nil, errUnknownCharset
	}
	return message.CharsetReader(strings.ToLower(cs), r)
}}

// toUTF8 returns s as UTF-8: valid UTF-8 as it is; anything else read as
// GB18030, the superset of GB2312 and GBK that Chinese mail software writes
// raw into headers and undeclared bodies. Bytes that are not GB18030 either
// become U+FFFD.
func toUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// headerText decodes an unstructured header field (Subject): raw 8-bit
// bytes first, then RFC 2047 encoded words. A word in an unknown charset is
// kept as written.
func headerText(raw string) string {
	s := toUTF8([]byte(raw))
	if dec, err := wordDecoder.DecodeHeader(s); err == nil {
		s = dec
	}
	return toUTF8([]byte(s))
}

// headerAddress reads the first address of an address field (From,
// Reply-To), its display name decoded like headerText.
func headerAddress(raw string) (*mail.Address, bool) {
	s := toUTF8([]byte(raw))
	if s == "" {
		return nil, false
	}
	p := mail.AddressParser{WordDecoder: wordDecoder}
	list, err := p.ParseList(s)
	if err != nil || len(list) == 0 {
		// Some mailers put the raw name unquoted with specials in it:
		// fall back to what is in angle brackets.
		i, j := strings.LastIndexByte(s, '<'), strings.LastIndexByte(s, '>')
		if i < 0 || j < i {
			return nil, false
		}
		a, err := mail.ParseAddress(s[i : j+1])
		if err != nil {
			return nil, false
		}
		a.Name = headerText(strings.Trim(strings.TrimSpace(s[:i]), `"`))
		list = []*mail.Address{a}
	}
	a := list[0]
	a.Name = toUTF8([]byte(a.Name))
	return a, true
}

// messageID returns the Message-ID without its angle brackets, or "".
func messageID(raw string) string {
	s := strings.TrimSpace(raw)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			s = s[i+1 : i+j]
		}
	}
	if s == "" || len(s) > 250 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' || r == '<' || r == '>' }) {
		return ""
	}
	return s
}
