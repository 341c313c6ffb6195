package sms

import (
	"fmt"
	"net"
	"time"

	"github.com/lianxin/lianxin/channels/sms/smpp"
)

// Config is the SMS channel's configuration (YAML key "sms"). Zero values
// take the defaults in brackets; secrets come from the environment (see
// ApplyEnv).
type Config struct {
	// Line is the hotline number SMS arrive on ["12345"].
	Line string `yaml:"line"`
	// Queue is the queue new SMS contacts join ["general"].
	Queue string `yaml:"queue"`
	// Routes send SMS sent to other numbers (e.g. the enterprise line) to
	// their own line and queue, by exact destination number.
	Routes []Route `yaml:"routes"`
	// MaxBodyBytes bounds an HTTP push [1 MiB].
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// DedupeWindow: the same text from the same number over SMPP (which has
	// no message id) within this window is a redelivery [10m].
	DedupeWindow time.Duration `yaml:"dedupe_window"`
	// NoAck stops the SMS with the tracking number sent for each new
	// contact [false].
	NoAck bool `yaml:"no_ack"`

	Aliyun  Push    `yaml:"aliyun"`
	Tencent Push    `yaml:"tencent"`
	Generic Generic `yaml:"generic"`
	SMPP    SMPP    `yaml:"smpp"`
}

// Route maps a destination number to a line and queue.
type Route struct {
	To    string `yaml:"to"`
	Line  string `yaml:"line"`
	Queue string `yaml:"queue"`
}

// Push configures an unsigned provider push (Aliyun, Tencent).
type Push struct {
	Enabled bool `yaml:"enabled"`
	// Token, when set, must be the push URL's ?token= (the providers sign
	// nothing; put the token in the URL you register with them).
	// Environment: LIANXIN_SMS_ALIYUN_TOKEN, LIANXIN_SMS_TENCENT_TOKEN.
	Token string `yaml:"token"`
}

// Generic configures POST /channels/sms/generic.
type Generic struct {
	Enabled bool `yaml:"enabled"`
	// Secret is the HMAC-SHA256 key, at least 16 bytes. Environment:
	// LIANXIN_SMS_GENERIC_SECRET.
	Secret string `yaml:"secret"`
	// MaxSkew is how far X-Lianxin-Timestamp may be from our clock [5m].
	MaxSkew time.Duration `yaml:"max_skew"`
}

// SMPP configures the bind to an SMS centre.
type SMPP struct {
	Enabled bool `yaml:"enabled"`
	// Addr is the SMSC's host:port [required when enabled].
	Addr       string `yaml:"addr"`
	SystemID   string `yaml:"system_id"`
	Password   string `yaml:"password"` // environment: LIANXIN_SMPP_PASSWORD
	SystemType string `yaml:"system_type"`
	// Mode is "transceiver" (receive and reply) or "receiver" [transceiver].
	Mode string `yaml:"mode"`
	// SourceAddr is the number replies come from [Line].
	SourceAddr string `yaml:"source_addr"`
	SourceTON  uint8  `yaml:"source_ton"` // [0]
	SourceNPI  uint8  `yaml:"source_npi"` // [0]
	// DefaultAlphabet is what data_coding 0 means on this SMSC: gsm7,
	// ascii or latin1 [gsm7].
	DefaultAlphabet smpp.Alphabet `yaml:"default_alphabet"`
	// EnquireLink is how often the link is checked [30s].
	EnquireLink time.Duration `yaml:"enquire_link"`
	// ResponseTimeout bounds the wait for any response, and each write [10s].
	ResponseTimeout time.Duration `yaml:"response_timeout"`
	// ConnectTimeout bounds the TCP connect [10s].
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// RebindMin and RebindMax bound the backoff between binds [1s, 60s].
	RebindMin time.Duration `yaml:"rebind_min"`
	RebindMax time.Duration `yaml:"rebind_max"`
	// PartTimeout is how long a long message waits for missing parts before
	// what arrived is delivered, marked incomplete [20s]. Parts are answered
	// only once the message is stored, so keep it below the SMSC's response
	// timeout.
	PartTimeout time.Duration `yaml:"part_timeout"`
	// MaxPending bounds unfinished long messages per bind [1000].
	MaxPending int `yaml:"max_pending"`
	// Window bounds our outstanding requests (submit_sm, enquire_link) [10].
	Window int `yaml:"window"`
	// Workers store messages in parallel (one sender's in order) [8].
	Workers int `yaml:"workers"`
	// MaxReplyParts bounds a reply's short messages [8].
	MaxReplyParts int `yaml:"max_reply_parts"`
	// NoReceipts stops asking for delivery receipts [false].
	NoReceipts bool `yaml:"no_receipts"`
	// MaxPDU bounds a PDU read [70 KiB].
	MaxPDU int `yaml:"max_pdu"`
}

// DefaultConfig is the configuration with every default filled in.
func DefaultConfig() Config {
	var c Config
	c.defaults()
	return c
}

func (c *Config) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	seti := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	if c.Line == "" {
		c.Line = "12345"
	}
	if c.Queue == "" {
		c.Queue = "general"
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	set(&c.DedupeWindow, 10*time.Minute)
	set(&c.Generic.MaxSkew, 5*time.Minute)
	s := &c.SMPP
	if s.Mode == "" {
		s.Mode = "transceiver"
	}
	if s.SourceAddr == "" {
		s.SourceAddr = c.Line
	}
	if s.DefaultAlphabet == "" {
		s.DefaultAlphabet = smpp.AlphabetGSM7
	}
	set(&s.EnquireLink, 30*time.Second)
	set(&s.ResponseTimeout, 10*time.Second)
	set(&s.ConnectTimeout, 10*time.Second)
	set(&s.RebindMin, time.Second)
	set(&s.RebindMax, time.Minute)
	set(&s.PartTimeout, 20*time.Second)
	seti(&s.MaxPending, 1000)
	seti(&s.Window, 10)
	seti(&s.Workers, 8)
	seti(&s.MaxReplyParts, 8)
	seti(&s.MaxPDU, smpp.MaxPDU)
}

// Validate checks the configuration (after defaults); errors name the
// field by its YAML path under "sms".
func (c *Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: sms.%s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	if c.MaxBodyBytes < 1024 {
		return bad("max_body_bytes", "%d is below 1024", c.MaxBodyBytes)
	}
	for i, r := range c.Routes {
		if r.To == "" || r.Queue == "" {
			return bad(fmt.Sprintf("routes[%d]", i), "needs to and queue")
		}
	}
	if c.DedupeWindow < 0 || c.Generic.MaxSkew < 0 {
		return bad("dedupe_window", "must not be negative")
	}
	if c.Generic.Enabled && len(c.Generic.Secret) < 16 {
		return bad("generic.secret", "at least 16 bytes are needed (set LIANXIN_SMS_GENERIC_SECRET)")
	}
	s := &c.SMPP
	if !s.Enabled {
		return nil
	}
	if _, _, err := net.SplitHostPort(s.Addr); err != nil {
		return bad("smpp.addr", "%q is not host:port", s.Addr)
	}
	if s.SystemID == "" || len(s.SystemID) > 15 {
		return bad("smpp.system_id", "1 to 15 characters")
	}
	if len(s.Password) > 8 {
		return bad("smpp.password", "at most 8 characters (SMPP 3.4)")
	}
	if len(s.SystemType) > 12 {
		return bad("smpp.system_type", "at most 12 characters")
	}
	if s.Mode != "transceiver" && s.Mode != "receiver" {
		return bad("smpp.mode", "%q is not transceiver or receiver", s.Mode)
	}
	if len(s.SourceAddr) > 20 {
		return bad("smpp.source_addr", "at most 20 characters")
	}
	if !s.DefaultAlphabet.Valid() {
		return bad("smpp.default_alphabet", "%q is not gsm7, ascii or latin1", s.DefaultAlphabet)
	}
	for name, d := range map[string]time.Duration{"enquire_link": s.EnquireLink, "response_timeout": s.ResponseTimeout,
		"connect_timeout": s.ConnectTimeout, "rebind_min": s.RebindMin, "rebind_max": s.RebindMax,
		"part_timeout": s.PartTimeout} {
		if d <= 0 {
			return bad("smpp."+name, "must be positive")
		}
	}
	if s.RebindMax < s.RebindMin {
		return bad("smpp.rebind_max", "%s is below rebind_min %s", s.RebindMax, s.RebindMin)
	}
	for name, n := range map[string]int{"max_pending": s.MaxPending, "window": s.Window, "workers": s.Workers,
		"max_reply_parts": s.MaxReplyParts} {
		if n < 1 {
			return bad("smpp."+name, "must be at least 1")
		}
	}
	if s.MaxReplyParts > 255 {
		return bad("smpp.max_reply_parts", "at most 255")
	}
	if s.MaxPDU < 1024 {
		return bad("smpp.max_pdu", "at least 1024")
	}
	return nil
}

// ApplyEnv overrides secrets from the environment (getenv is os.Getenv).
func (c *Config) ApplyEnv(getenv func(string) string) {
	for k, p := range map[string]*string{"LIANXIN_SMS_ALIYUN_TOKEN": &c.Aliyun.Token,
		"LIANXIN_SMS_TENCENT_TOKEN": &c.Tencent.Token, "LIANXIN_SMS_GENERIC_SECRET": &c.Generic.Secret,
		"LIANXIN_SMPP_PASSWORD": &c.SMPP.Password} {
		if v := getenv(k); v != "" {
			*p = v
		}
	}
}

// route returns the line and queue of a destination number.
func (c *Config) route(to string) (line, q string) {
	for _, r := range c.Routes {
		if r.To == to {
			if r.Line == "" {
				return r.To, r.Queue
			}
			return r.Line, r.Queue
		}
	}
	return c.Line, c.Queue
}
