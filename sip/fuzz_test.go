package sip

import (
	"errors"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/require"
)

// FuzzParseSDP: any body gives a usable session or a named error, never a
// panic; a session has at least one G.711 codec and a port.
func FuzzParseSDP(f *testing.F) {
	f.Add(sdpOffer(4000, 0, 8))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\na=sendonly\r\n"))
	f.Add([]byte("v=0\r\nm=audio 0 RTP/AVP 0\r\n"))
	f.Add([]byte("m=video 1 RTP/AVP 96\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := parseSDP(body)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) && !errors.Is(err, ErrNoCodec) {
				t.Fatalf("unnamed error: %v", err)
			}
			return
		}
		if len(s.codecs) == 0 || s.remote.Port() == 0 {
			t.Fatalf("session without codec or port: %+v", s)
		}
		// What we answer with it parses back.
		l := localSDP{id: 1, version: 1, ip: s.remote.Addr(), port: 5000, codecs: s.codecs[:1], eventPT: s.eventPT,
			dir: answerDir(s.dir)}
		back, err := parseSDP(l.marshal())
		if err != nil || back.codecs[0] != s.codecs[0] || back.remote.Port() != 5000 {
			t.Fatalf("our answer does not parse back: %v %+v", err, back)
		}
	})
}

// FuzzCallerOf: the caller's number is E.164 or empty, whatever the headers.
func FuzzCallerOf(f *testing.F) {
	f.Add("sip:13800138000@trunk", "<sip:+8613800138000@10.0.0.1>")
	f.Add("sip:anonymous@anonymous.invalid", "")
	f.Add("tel:+8628123456", "<tel:+862887654321>")
	f.Add("sip:+14155550123@trunk", "")
	f.Fuzz(func(t *testing.T, from, pai string) {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "12345", Host: "x"})
		var u sip.Uri
		if sip.ParseUri(from, &u) == nil {
			req.AppendHeader(&sip.FromHeader{Address: u, Params: sip.NewParams()})
		}
		if pai != "" {
			req.AppendHeader(sip.NewHeader("P-Asserted-Identity", pai))
		}
		got := callerOf(req)
		if got != "" && !strings.HasPrefix(got, "+") {
			t.Fatalf("caller %q is not E.164", got)
		}
	})
}

// TestCallerFromAbroad: a caller ID of another country is the caller's
// number in E.164 (it was taken for a Chinese mobile: +1 415… became
// +86 1415…).
func TestCallerFromAbroad(t *testing.T) {
	for from, want := range map[string]string{
		"sip:+14155550123@trunk":  "+14155550123",
		"sip:0014155550123@trunk": "+14155550123",
		"sip:13800138000@trunk":   "+8613800138000",
		"sip:+1555@trunk":         "",
	} {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "12345", Host: "x"})
		var u sip.Uri
		require.NoError(t, sip.ParseUri(from, &u))
		req.AppendHeader(&sip.FromHeader{Address: u, Params: sip.NewParams()})
		require.Equal(t, want, callerOf(req), from)
	}
}

// FuzzCheckDigest: credentials parsed from any header never pass without
// the right HA1, and never panic.
func FuzzCheckDigest(f *testing.F) {
	f.Add(`Digest username="1001", realm="lianxin", nonce="abc", uri="sip:x", response="00", qop=auth, nc=00000001, cnonce="c"`)
	f.Add(`Digest username="1001", algorithm=SHA-256, response="zz"`)
	f.Fuzz(func(t *testing.T, h string) {
		c, err := digest.ParseCredentials(h)
		if err != nil {
			return
		}
		p := phoneFor("1001", "demo", "lianxin")
		if checkDigest(c, p, "REGISTER") {
			// Only a response computed from the password can pass: recompute.
			opts := digest.Options{Method: "REGISTER", URI: c.URI, Username: "1001", Password: "demo", Cnonce: c.Cnonce, Count: c.Nc}
			ch := &digest.Challenge{Realm: "lianxin", Nonce: c.Nonce, Algorithm: c.Algorithm}
			if c.QOP != "" {
				ch.QOP = []string{c.QOP}
			}
			want, err := digest.Digest(ch, opts)
			if err != nil || !strings.EqualFold(want.Response, c.Response) {
				t.Fatalf("accepted credentials not made from the password: %q", h)
			}
		}
	})
}
