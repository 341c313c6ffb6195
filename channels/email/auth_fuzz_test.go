package email

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-msgauth/dkim"
)

// FuzzSenderAuth feeds the sender checks arbitrary DNS records, envelopes
// and letters. Whatever they say, the verdict is one of the four results
// per check, is authenticated only on a pass, agrees with its note, and
// never passes DKIM for a letter without a signature.
func FuzzSenderAuth(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	record := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	letter := plainLetter("li@signed.example", "fuzz.1@test", "路灯")
	var signed bytes.Buffer
	if err := dkim.Sign(&signed, bytes.NewReader(letter), &dkim.SignOptions{Domain: "signed.example", Selector: "sel",
		Signer: key}); err != nil {
		f.Fatal(err)
	}
	f.Add("v=spf1 ip4:127.0.0.1 -all", "v=DMARC1; p=reject", record, "bounce@list.example", signed.Bytes())
	f.Add("v=spf1 -all", "v=DMARC1; p=none; aspf=s; adkim=s", record, "", letter)
	f.Add("v=spf1 include:%{d}.x redirect=a", "v=DMARC1; p=bogus", "v=DKIM1; p=", "a@signed.example.", signed.Bytes())
	f.Add("v=spf1 a mx ptr exists:%{i}.x ?all", "v=DMARC2", "k=rsa; p=AAAA", "@", []byte("DKIM-Signature: v=1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, spfRec, dmarcRec, keyRec, mailFrom string, msg []byte) {
		dns := newFakeDNS()
		dns.defaultSPF = ""
		for _, d := range []string{"signed.example", "list.example", domainOf(mailFrom)} {
			if d != "" {
				dns.set(d, spfRec)
			}
		}
		dns.set("_dmarc.signed.example", dmarcRec)
		dns.set("sel._domainkey.signed.example", keyRec)
		s := &Server{o: Options{DNSTimeout: time.Second}, dns: dns}
		d := s.startDKIM(t.Context())
		_, _ = d.Write(msg)
		dk := d.finish(nil)
		a := s.checkSender(t.Context(), envelope{ip: net.IPv4(127, 0, 0, 1), helo: "helo.example", mailFrom: mailFrom},
			"signed.example", dk)
		for name, c := range map[string]string{"spf": a.SPF.Result, "dkim": a.DKIM.Result, "dmarc": a.DMARC.Result} {
			switch c {
			case authPass, authFail, authNone, authTempError:
			default:
				t.Fatalf("%s result %q is not pass, fail, none or temperror", name, c)
			}
		}
		if a.Authenticated && a.SPF.Result != authPass && a.DKIM.Result != authPass {
			t.Fatalf("authenticated without a pass: %+v", a)
		}
		if a.DMARC.Result == authPass && !a.Authenticated {
			t.Fatalf("DMARC pass but not authenticated: %+v", a)
		}
		if a.Authenticated != strings.HasPrefix(a.Note, "发件人已验证") || !utf8.ValidString(a.Note) {
			t.Fatalf("note %q disagrees with authenticated=%v", a.Note, a.Authenticated)
		}
		if a.DKIM.Result == authPass && !bytes.Contains(bytes.ToLower(msg), []byte("dkim-signature")) {
			t.Fatalf("DKIM pass for a letter without a signature")
		}
		for _, dom := range []string{a.SPF.Domain, a.DKIM.Domain, a.DMARC.Domain} {
			if dom != normDomain(dom) {
				t.Fatalf("domain %q is not normalised", dom)
			}
		}
	})
}
