package email

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"time"
)

// Options configure the e-mail channel: the `smtp:` section of the
// configuration file. Each default is in the field's comment.
type Options struct {
	// Addr to listen on. Default ":2525". Env: LIANXIN_SMTP_ADDR.
	Addr string `yaml:"addr"`
	// Domain is the name the listener greets with. Default "lianxin".
	Domain string `yaml:"domain"`
	// ReadTimeout bounds each command line and, from the DATA command on, the
	// whole message transfer. Default 5m (RFC 5321 §4.5.3.2).
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds each reply. Default 1m.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// MaxMessageBytes is the largest letter, as sent (MIME encoded).
	// Default 32 MiB.
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
	// MaxRecipients per message. Default 10.
	MaxRecipients int `yaml:"max_recipients"`
	// MaxLineLength of a command or message line, CRLF included. Default
	// 2000 (RFC 5322 allows 998).
	MaxLineLength int `yaml:"max_line_length"`
	// MaxConnections open at once. When full, the oldest connection not
	// receiving a letter is closed for the new one; only when every one is
	// receiving is the new one told 421. Default 200.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerSource from one address, the same way. Default 20.
	MaxConnectionsPerSource int `yaml:"max_connections_per_source"`
	// MaxReceiving bounds the letters being received (DATA) at once; a
	// letter past it is answered 451 4.3.2 and its sender tries again
	// later. Default 32.
	MaxReceiving int `yaml:"max_receiving"`
	// MaxAttachments per letter, inline images included. Default 20.
	MaxAttachments int `yaml:"max_attachments"`
	// MaxAttachmentBytes per file, decoded. Default 10 MiB.
	MaxAttachmentBytes int64 `yaml:"max_attachment_bytes"`
	// MaxTextRunes of a letter's text in the contact; a longer text is cut
	// there and kept whole as an attachment. Default 20000.
	MaxTextRunes int `yaml:"max_text_runes"`
	// MaxParts is the most MIME parts a letter may have. Default 100.
	MaxParts int `yaml:"max_parts"`
	// ProcessTimeout bounds storing one letter (blobs and Redis). Default 30s.
	ProcessTimeout time.Duration `yaml:"process_timeout"`
	// ShutdownGrace is how long letters being received may finish when
	// the server stops. Default 10s.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// TLS is the listener's certificate for STARTTLS.
	TLS TLSFiles `yaml:"tls"`
	// DNSTimeout bounds each sender check's DNS lookups: SPF's (all of
	// them together), each DKIM key's, the DMARC policy's. A check that runs
	// out is a temperror and the letter gets no acknowledgement. Default 10s.
	DNSTimeout time.Duration `yaml:"dns_timeout"`
	// DNSCache is how long the sender checks keep a DNS answer (a name
	// found not to exist: at most a minute of it), so that many letters
	// from one domain ask the resolver once. Default 5m.
	DNSCache time.Duration `yaml:"dns_cache"`
	// Relay sends acknowledgements and replies.
	Relay Relay `yaml:"relay"`
	// DKIM signs our outbound mail when a key is configured.
	DKIM DKIMSigning `yaml:"dkim"`
}

// TLSFiles name a PEM certificate chain and its private key. With neither
// set the listener makes a self-signed pair for Domain at start (and logs a
// warning): sending servers that encrypt opportunistically accept it.
type TLSFiles struct {
	// CertFile is the certificate chain, PEM. Default "": self-signed.
	CertFile string `yaml:"cert_file"`
	// KeyFile is its private key, PEM. Default "": self-signed.
	KeyFile string `yaml:"key_file"`
}

// DKIMSigning is the key our outbound mail is signed with (RFC 6376,
// rsa-sha256 or ed25519-sha256 by the key's type). The public key is
// published at Selector._domainkey.Domain.
type DKIMSigning struct {
	// Domain is the signing domain (d=). Default: the domain of relay.from.
	Domain string `yaml:"domain"`
	// Selector is the key's selector (s=). Required with a key.
	Selector string `yaml:"selector"`
	// KeyFile is the private key, PEM (PKCS#1, PKCS#8 RSA or Ed25519).
	// Default "": mail goes out unsigned. Env: LIANXIN_SMTP_DKIM_KEY_FILE.
	KeyFile string `yaml:"key_file"`
	// Key is the private key itself, PEM, for a key handed over in the
	// environment rather than a file. Env: LIANXIN_SMTP_DKIM_KEY.
	Key string `yaml:"-"`
}

// enabled reports whether a signing key is configured.
func (d DKIMSigning) enabled() bool { return d.KeyFile != "" || d.Key != "" }

// Relay is the outbound SMTP relay for acknowledgements and agents' replies.
type Relay struct {
	// Addr is host:port. Default "": no acknowledgements are sent and
	// replies fail with "no reply path".
	Addr string `yaml:"addr"`
	// From is the sender address of our mail. Default
	// "noreply@mail.12345.chengdu.gov.cn".
	From string `yaml:"from"`
	// FromName is its display name. Default "成都12345".
	FromName string `yaml:"from_name"`
	// Helo is the name we greet the relay with. Default "lianxin".
	Helo string `yaml:"helo"`
	// Username for AUTH PLAIN; empty: no AUTH.
	Username string `yaml:"username"`
	// Password for AUTH PLAIN. Env: LIANXIN_SMTP_RELAY_PASSWORD.
	Password string `yaml:"password"`
	// StartTLS requires STARTTLS before anything is sent. Default false.
	StartTLS bool `yaml:"starttls"`
	// InsecureAuth allows AUTH without STARTTLS (a relay on loopback).
	InsecureAuth bool `yaml:"insecure_auth"`
	// Timeout bounds one delivery to the relay. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// AckAttempts is how many times an acknowledgement is tried. Default 6.
	AckAttempts int `yaml:"ack_attempts"`
	// AckBackoff is the first wait before a retry; it doubles each time, up
	// to 10 minutes. Default 30s.
	AckBackoff time.Duration `yaml:"ack_backoff"`
	// AckQueue is how many acknowledgements may wait to be sent; past it
	// they are dropped and logged. Default 10000.
	AckQueue int `yaml:"ack_queue"`
	// Workers send acknowledgements in parallel. Default 2.
	Workers int `yaml:"workers"`
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	def := func(p any, v any) {
		switch p := p.(type) {
		case *string:
			if *p == "" {
				*p = v.(string)
			}
		case *int:
			if *p == 0 {
				*p = v.(int)
			}
		case *int64:
			if *p == 0 {
				*p = v.(int64)
			}
		case *time.Duration:
			if *p == 0 {
				*p = v.(time.Duration)
			}
		}
	}
	def(&o.Addr, ":2525")
	def(&o.Domain, "lianxin")
	def(&o.ReadTimeout, 5*time.Minute)
	def(&o.WriteTimeout, time.Minute)
	def(&o.MaxMessageBytes, int64(32<<20))
	def(&o.MaxRecipients, 10)
	def(&o.MaxLineLength, 2000)
	def(&o.MaxConnections, 200)
	def(&o.MaxConnectionsPerSource, 20)
	def(&o.MaxReceiving, 32)
	def(&o.MaxAttachments, 20)
	def(&o.MaxAttachmentBytes, int64(10<<20))
	def(&o.MaxTextRunes, 20000)
	def(&o.MaxParts, 100)
	def(&o.ProcessTimeout, 30*time.Second)
	def(&o.ShutdownGrace, 10*time.Second)
	def(&o.DNSTimeout, 10*time.Second)
	def(&o.DNSCache, 5*time.Minute)
	r := &o.Relay
	def(&r.From, "noreply@mail.12345.chengdu.gov.cn")
	if o.DKIM.enabled() && o.DKIM.Domain == "" {
		_, o.DKIM.Domain, _ = strings.Cut(r.From, "@")
	}
	def(&r.FromName, "成都12345")
	def(&r.Helo, "lianxin")
	def(&r.Timeout, 30*time.Second)
	def(&r.AckAttempts, 6)
	def(&r.AckBackoff, 30*time.Second)
	def(&r.AckQueue, 10000)
	def(&r.Workers, 2)
	return o
}

// Validate checks the options after defaults; each error names its field.
func (o Options) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("smtp.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		bad("addr", "not host:port: %q", o.Addr)
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"read_timeout", o.ReadTimeout}, {"write_timeout", o.WriteTimeout}, {"process_timeout", o.ProcessTimeout},
		{"shutdown_grace", o.ShutdownGrace}, {"dns_timeout", o.DNSTimeout}, {"dns_cache", o.DNSCache}, {"relay.timeout", o.Relay.Timeout}, {"relay.ack_backoff", o.Relay.AckBackoff}} {
		if f.d <= 0 {
			bad(f.name, "must be positive (zero would mean no limit)")
		}
	}
	for _, f := range []struct {
		name string
		n    int64
	}{{"max_message_bytes", o.MaxMessageBytes}, {"max_recipients", int64(o.MaxRecipients)},
		{"max_connections", int64(o.MaxConnections)}, {"max_receiving", int64(o.MaxReceiving)},
		{"max_connections_per_source", int64(o.MaxConnectionsPerSource)}, {"max_attachments", int64(o.MaxAttachments)},
		{"max_attachment_bytes", o.MaxAttachmentBytes}, {"max_text_runes", int64(o.MaxTextRunes)},
		{"max_parts", int64(o.MaxParts)}, {"relay.ack_attempts", int64(o.Relay.AckAttempts)},
		{"relay.ack_queue", int64(o.Relay.AckQueue)}, {"relay.workers", int64(o.Relay.Workers)}} {
		if f.n <= 0 {
			bad(f.name, "must be positive (zero would mean no limit)")
		}
	}
	if o.MaxLineLength < 1000 {
		bad("max_line_length", "must be at least 1000 (RFC 5321 lines are up to 1000 bytes)")
	}
	if o.MaxAttachmentBytes > o.MaxMessageBytes {
		bad("max_attachment_bytes", "larger than max_message_bytes")
	}
	r := o.Relay
	if r.Addr != "" {
		if _, _, err := net.SplitHostPort(r.Addr); err != nil {
			bad("relay.addr", "not host:port: %q", r.Addr)
		}
	}
	if a, err := mail.ParseAddress(r.From); err != nil || a.Address != r.From {
		bad("relay.from", "not a bare e-mail address: %q", r.From)
	}
	if r.Username != "" && !r.StartTLS && !r.InsecureAuth {
		bad("relay.username", "AUTH without starttls sends the password in clear; set relay.starttls (or relay.insecure_auth for a relay on loopback)")
	}
	if r.Password != "" && r.Username == "" {
		bad("relay.password", "set without relay.username")
	}
	if (o.TLS.CertFile == "") != (o.TLS.KeyFile == "") {
		bad("tls", "set both cert_file and key_file, or neither (a self-signed pair)")
	}
	if d := o.DKIM; d.enabled() {
		if d.Selector == "" || strings.ContainsAny(d.Selector, " ;=@") {
			bad("dkim.selector", "required with a key, a DNS label such as \"mail2026\": %q", d.Selector)
		}
		if d.Domain == "" || strings.ContainsAny(d.Domain, " ;=@") {
			bad("dkim.domain", "not a domain: %q", d.Domain)
		}
	}
	return errors.Join(errs...)
}
