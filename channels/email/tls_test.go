package email

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestSwaksSTARTTLS: a real mail client upgrades to TLS and delivers.
func TestSwaksSTARTTLS(t *testing.T) {
	bin, err := exec.LookPath("swaks")
	if err != nil {
		t.Fatalf("swaks is not installed (make test installs it: apt-get install swaks libnet-ssleay-perl): %v", err)
	}
	e := start(t, queuetest.RedisServer(t), newFakeRelay(t), nil)
	cmd := exec.CommandContext(ctx(t), bin, "--tls", "--server", e.addr, "--from", "zhangsan@example.cn", "--to", boxAddr,
		"--helo", "sender.test", "--data", "testdata/gb2312-qp.eml")
	outb, err := cmd.CombinedOutput()
	require.NoError(t, err, string(outb))
	require.Contains(t, string(outb), "STARTTLS")
	require.Contains(t, string(outb), "TLS started")
	require.Contains(t, string(outb), "250 2.0.0")
	ack := ackOf(t, e.relay, "gb2312-qp.20250303091500@example.cn")
	c, err := e.q.Contact(ctx(t), ack.TN)
	require.NoError(t, err)
	require.Equal(t, "路灯坏了", c.Subject)
}

// TestSelfSignedCertificate: with no files configured the listener offers
// STARTTLS with an ECDSA P-256 certificate made for its host name.
func TestSelfSignedCertificate(t *testing.T) {
	e := start(t, queuetest.Miniredis(t), nil, func(o *Options) { o.Domain = "mx.12345.test" })
	c, err := smtp.DialStartTLS(e.addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // we check the certificate below
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Noop()) // the handshake is done by the first command after STARTTLS
	st, ok := c.TLSConnectionState()
	require.True(t, ok)
	leaf := st.PeerCertificates[0]
	require.Equal(t, []string{"mx.12345.test"}, leaf.DNSNames)
	require.NoError(t, leaf.VerifyHostname("mx.12345.test"))
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	require.True(t, ok, "%T", leaf.PublicKey)
	require.Equal(t, elliptic.P256(), pub.Curve)
	require.True(t, leaf.NotAfter.After(time.Now().Add(365*24*time.Hour)))
	// A verifying client that trusts it gets through.
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	c2, err := smtp.DialStartTLS(e.addr, &tls.Config{RootCAs: pool, ServerName: "mx.12345.test", MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	require.NoError(t, c2.Noop())
	require.NoError(t, c2.Close())
}

// TestConfiguredCertificate: the listener serves the configured pair, and
// a bad pair stops New with an error naming the field.
func TestConfiguredCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, err := selfSignedCert("127.0.0.1", time.Now())
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	require.NoError(t, err)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))

	e := start(t, queuetest.Miniredis(t), nil, func(o *Options) { o.TLS = TLSFiles{CertFile: certFile, KeyFile: keyFile} })
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	c, err := smtp.DialStartTLS(e.addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	require.NoError(t, c.Noop())
	require.NoError(t, c.Close())

	for _, f := range []TLSFiles{{CertFile: keyFile, KeyFile: keyFile}, {CertFile: filepath.Join(dir, "none.pem"), KeyFile: keyFile}} {
		_, err := New(Params{Options: Options{TLS: f}, Lookup: lookup, Queue: e.q, Blobs: e.blobs})
		require.ErrorContains(t, err, "smtp.tls:")
	}
}

// TestPlainStillWorks: a sender that does not do TLS still delivers; TLS
// is offered, never required.
func TestPlainStillWorks(t *testing.T) {
	e := start(t, queuetest.Miniredis(t), nil, nil)
	c, err := smtp.Dial(e.addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello("sender.test"))
	ok, _ := c.Extension("STARTTLS")
	require.True(t, ok, "STARTTLS is offered")
	ok, _ = c.Extension("AUTH")
	require.False(t, ok, "AUTH is not offered")
	require.NoError(t, c.SendMail("a@example.cn", []string{boxAddr}, bytes.NewReader(plainLetter("a@example.cn", "plain.1@test", "明文"))))
	require.NotNil(t, contactBySubject(t, e, "明文"))
}
