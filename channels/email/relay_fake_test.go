package email

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// fakeRelay is the outbound relay for tests: a real SMTP server (go-smtp)
// on a loopback port that keeps what it is given.
type fakeRelay struct {
	addr      string
	clientTLS *tls.Config // trusts the relay's certificate
	srv       *smtp.Server

	mu       sync.Mutex
	got      []relayed
	tempFail int   // answer the next tempFail DATA with 451
	rcptErr  error // answer every RCPT with this
	user     string
	pass     string
	arrived  chan struct{}
}

type relayed struct {
	From, To string
	Data     []byte
	TLS      bool
	User     string
}

type relayOpt func(*fakeRelay)

// withAuth requires STARTTLS and AUTH PLAIN with user and pass.
func withAuth(user, pass string) relayOpt {
	return func(r *fakeRelay) { r.user, r.pass = user, pass }
}

func newFakeRelay(t testing.TB, opts ...relayOpt) *fakeRelay {
	t.Helper()
	r := &fakeRelay{arrived: make(chan struct{}, 100)}
	for _, o := range opts {
		o(r)
	}
	cert, pool := selfSigned(t)
	r.clientTLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	r.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &relaySession{r: r, tls: isTLS, c: c}, nil
	}))
	r.srv.Domain = "relay.test"
	r.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	r.srv.ReadTimeout, r.srv.WriteTimeout = time.Minute, time.Minute
	r.srv.MaxMessageBytes, r.srv.MaxRecipients = 10<<20, 10
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { _ = r.srv.Serve(ln); close(done) }()
	t.Cleanup(func() { _ = r.srv.Close(); <-done })
	return r
}

func (r *fakeRelay) messages() []relayed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]relayed(nil), r.got...)
}

type relaySession struct {
	r    *fakeRelay
	c    *smtp.Conn
	tls  bool
	user string
	from string
	to   []string
}

func (s *relaySession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *relaySession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.r.user || pass != s.r.pass {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	if s.r.user != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.r.rcptErr != nil {
		return s.r.rcptErr
	}
	s.to = append(s.to, to)
	return nil
}

func (s *relaySession) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	_, isTLS := s.c.TLSConnectionState()
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.r.tempFail > 0 {
		s.r.tempFail--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	}
	for _, to := range s.to {
		s.r.got = append(s.r.got, relayed{From: s.from, To: to, Data: b, TLS: isTLS, User: s.user})
	}
	select {
	case s.r.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (s *relaySession) Reset()        { s.from, s.to = "", nil }
func (s *relaySession) Logout() error { return nil }

var _ smtp.AuthSession = (*relaySession)(nil)

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

var errNoMail = errors.New("no mail arrived at the relay")
