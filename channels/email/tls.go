package email

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"

	"go.uber.org/zap"
)

// selfSignedValidity is how long a generated certificate is valid: it is
// made anew at every start.
const selfSignedValidity = 2 * 365 * 24 * time.Hour

// listenerTLS is the STARTTLS configuration of the listener: the configured
// certificate, or a self-signed pair for host made now.
func listenerTLS(f TLSFiles, host string, now time.Time, log *zap.Logger) (*tls.Config, error) {
	var cert tls.Certificate
	if f.CertFile != "" {
		c, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("smtp.tls: %w", err)
		}
		cert = c
	} else {
		c, err := selfSignedCert(host, now)
		if err != nil {
			return nil, fmt.Errorf("smtp.tls: self-signed certificate: %w", err)
		}
		cert = c
		log.Warn("STARTTLS with a self-signed certificate made at start (smtp.tls.cert_file and key_file "+
			"are not set): mail is encrypted but the sending servers cannot verify who we are",
			zap.String("host", host))
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// selfSignedCert makes an ECDSA P-256 certificate for host (a name or an
// IP address), valid from an hour before now.
func selfSignedCert(host string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host, Organization: []string{"lianxin (self-signed)"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(selfSignedValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
