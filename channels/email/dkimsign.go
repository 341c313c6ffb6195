package email

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/emersion/go-msgauth/dkim"
)

// signedHeaders are the header fields our signature covers.
var signedHeaders = []string{"From", "To", "Subject", "Date", "Message-Id", "In-Reply-To", "References",
	"Auto-Submitted", "X-Lianxin-Tracking-No", "Mime-Version", "Content-Type", "Content-Transfer-Encoding"}

// signer DKIM-signs our outbound mail.
type signer struct {
	opts dkim.SignOptions
}

// newSigner loads the configured key; nil, nil when none is configured.
func newSigner(d DKIMSigning) (*signer, error) {
	if !d.enabled() {
		return nil, nil
	}
	pemText := []byte(d.Key)
	if d.Key == "" {
		b, err := os.ReadFile(d.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("smtp.dkim.key_file: %w", err)
		}
		pemText = b
	}
	key, err := parseDKIMKey(pemText)
	if err != nil {
		return nil, fmt.Errorf("smtp.dkim: %w", err)
	}
	return &signer{opts: dkim.SignOptions{Domain: d.Domain, Selector: d.Selector, Signer: key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: signedHeaders}}, nil
}

// parseDKIMKey reads an RSA (PKCS#1 or PKCS#8, at least 1024 bits) or
// Ed25519 (PKCS#8) private key in PEM.
func parseDKIMKey(pemText []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(pemText)
	if blk == nil {
		return nil, errors.New("the key is not PEM")
	}
	var key any
	var err error
	switch blk.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("a PEM %q block is not a private key (want RSA PRIVATE KEY or PRIVATE KEY)", blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("the key does not parse: %w", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("an RSA key of %d bits is too short for DKIM (use 2048)", k.N.BitLen())
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("a %T key cannot sign DKIM (use RSA or Ed25519)", key)
}

// sign returns msg with a DKIM-Signature field in front.
func (s *signer) sign(msg []byte) ([]byte, error) {
	opts := s.opts
	var b bytes.Buffer
	b.Grow(len(msg) + 512)
	if err := dkim.Sign(&b, bytes.NewReader(msg), &opts); err != nil {
		return nil, fmt.Errorf("email: DKIM signature: %w", err)
	}
	return b.Bytes(), nil
}
