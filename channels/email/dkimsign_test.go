package email

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestOutboundDKIM: with a key configured, acknowledgements leave signed,
// and the signature verifies against the published key, for RSA and
// Ed25519 keys from a file or from the environment.
func TestOutboundDKIM(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(edKey)
	require.NoError(t, err)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	edPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	dir := t.TempDir()
	rsaFile := filepath.Join(dir, "dkim.pem")
	require.NoError(t, os.WriteFile(rsaFile, rsaPEM, 0o600))

	for i, tc := range []struct {
		name   string
		dkim   DKIMSigning
		record string
		domain string
	}{
		{"rsa key file", DKIMSigning{Selector: "lx2026", KeyFile: rsaFile}, dkimRecord(t, &rsaKey.PublicKey),
			"mail.12345.chengdu.gov.cn"},
		{"ed25519 key from the environment", DKIMSigning{Selector: "ed", Domain: "12345.chengdu.gov.cn", Key: string(edPEM)},
			"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(edPub), "12345.chengdu.gov.cn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, queuetest.RedisServer(t), newFakeRelay(t), func(o *Options) { o.DKIM = tc.dkim })
			data := plainLetter("zhang@example.cn", "dkim.out@test", "路灯")
			require.NoError(t, send(t, e, "zhang@example.cn", []string{boxAddr}, data))
			ack := ackOf(t, e.relay, "dkim.out@test")
			lookups := 0
			verifs, err := dkim.VerifyWithOptions(bytes.NewReader(ack.Data), &dkim.VerifyOptions{
				LookupTXT: func(name string) ([]string, error) {
					lookups++
					if name != tc.dkim.Selector+"._domainkey."+tc.domain {
						return nil, nxdomain(name)
					}
					return []string{tc.record}, nil
				}})
			require.NoError(t, err)
			require.Len(t, verifs, 1, "one signature")
			require.NoError(t, verifs[0].Err, "case %d", i)
			require.Equal(t, tc.domain, verifs[0].Domain)
			require.Equal(t, 1, lookups)
			require.Contains(t, verifs[0].HeaderKeys, "From")
			require.Contains(t, verifs[0].HeaderKeys, "Subject")
			require.Contains(t, verifs[0].HeaderKeys, "X-Lianxin-Tracking-No")

			// Our own checker agrees, and a change on the way breaks it.
			dns := newFakeDNS()
			dns.set(tc.dkim.Selector+"._domainkey."+tc.domain, tc.record)
			s := &Server{o: Options{DNSTimeout: e.s.o.DNSTimeout}, dns: dns}
			require.Equal(t, "pass", verifyBytes(t, s, ack.Data).Result)
			tampered := bytes.Replace(ack.Data, []byte("X-Lianxin-Tracking-No: "+ack.TN), []byte("X-Lianxin-Tracking-No: 1"+ack.TN), 1)
			require.Equal(t, "fail", verifyBytes(t, s, tampered).Result)
		})
	}
}

// verifyBytes runs the inbound DKIM check over msg.
func verifyBytes(t testing.TB, s *Server, msg []byte) (r struct{ Result, Domain string }) {
	t.Helper()
	d := s.startDKIM(ctx(t))
	_, err := d.Write(msg)
	require.NoError(t, err)
	c := dkimCheck(d.finish(nil), "")
	r.Result, r.Domain = c.Result, c.Domain
	return r
}

// TestDKIMKeyErrors: a key that cannot sign stops New with a reason.
func TestDKIMKeyErrors(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	require.NoError(t, err)
	for _, tc := range []struct {
		key, want string
	}{
		{"not pem", "smtp.dkim: the key is not PEM"},
		{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})), "is not a private key"},
		{string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})), "cannot sign DKIM (use RSA or Ed25519)"},
		{string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("junk")})), "does not parse"},
	} {
		_, err := newSigner(Options{DKIM: DKIMSigning{Selector: "s", Key: tc.key}}.WithDefaults().DKIM)
		require.ErrorContains(t, err, tc.want)
	}
	_, err = newSigner(DKIMSigning{Selector: "s", KeyFile: filepath.Join(t.TempDir(), "none.pem")})
	require.ErrorContains(t, err, "smtp.dkim.key_file")
}
