package sms

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
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
	// no message id) within this window is a redelivery [10m]. A bind may
	// set its own (smpp.dedupe_window).
	DedupeWindow time.Duration `yaml:"dedupe_window"`
	// NoAck stops the SMS with the tracking number sent for each new
	// contact [false].
	NoAck bool `yaml:"no_ack"`

	Aliyun  Push    `yaml:"aliyun"`
	Tencent Push    `yaml:"tencent"`
	Generic Generic `yaml:"generic"`
	SMPP    SMPP    `yaml:"smpp"`

	// Answer chooses the path that answers a citizen's SMS.
	Answer Answer `yaml:"answer"`
}

// Paths an SMS can go out on.
const (
	PathAliyun  = "aliyun"
	PathTencent = "tencent"
	PathSMPP    = "smpp"
)

// Answer is the rule that picks the path acknowledgements, emergency
// advice and agents' replies go out on.
type Answer struct {
	// Via maps where a citizen's SMS came from (aliyun, tencent, generic,
	// smpp) to the path that answers it (aliyun, tencent, smpp). Where it
	// came from and not listed: its own path when that path can send, else
	// Default.
	Via map[string]string `yaml:"via"`
	// Default answers everything else, e.g. a letter's citizen answered by
	// SMS ["smpp" with a transceiver bind, else aliyun, else tencent, when
	// enabled for sending].
	Default string `yaml:"default"`
}

// Route maps a destination number to a line and queue.
type Route struct {
	To    string `yaml:"to"`
	Line  string `yaml:"line"`
	Queue string `yaml:"queue"`
}

// Push configures a cloud provider: its unsigned pushes of citizens' SMS
// (and delivery reports), and sending through its SendSms API.
type Push struct {
	Enabled bool `yaml:"enabled"`
	// Token, when set, must be the push URL's ?token= (the providers sign
	// nothing; put the token in the URL you register with them). It guards
	// the delivery report endpoint too.
	// Environment: LIANXIN_SMS_ALIYUN_TOKEN, LIANXIN_SMS_TENCENT_TOKEN.
	Token string `yaml:"token"`
	// Send configures SendSms through this provider.
	Send Sender `yaml:"send"`
}

// Sender configures a provider's SendSms API. Messages go out only from
// templates the provider approved.
type Sender struct {
	Enabled bool `yaml:"enabled"`
	// Endpoint is the API's base URL [https://dysmsapi.aliyuncs.com,
	// https://sms.tencentcloudapi.com].
	Endpoint string `yaml:"endpoint"`
	// Region [cn-hangzhou, ap-guangzhou].
	Region string `yaml:"region"`
	// SignName is the approved signature (签名) [required].
	SignName string `yaml:"sign_name"`
	// SdkAppID is Tencent's SmsSdkAppId [required for tencent].
	SdkAppID string `yaml:"sdk_app_id"`
	// KeyID and KeySecret are the AccessKey (Aliyun) or SecretId/SecretKey
	// (Tencent). Environment: LIANXIN_SMS_ALIYUN_ACCESS_KEY_ID,
	// LIANXIN_SMS_ALIYUN_ACCESS_KEY_SECRET, LIANXIN_SMS_TENCENT_SECRET_ID,
	// LIANXIN_SMS_TENCENT_SECRET_KEY.
	KeyID     string `yaml:"key_id"`
	KeySecret string `yaml:"key_secret"`
	// Ack is the acknowledgement template [required unless sms.no_ack];
	// its params may use tracking_no.
	Ack Template `yaml:"ack"`
	// Emergency is the emergency advice template; params may use number
	// (119, 120, 110 or 122) and tracking_no. Without it, an emergency SMS
	// answered on this path gets only the acknowledgement.
	Emergency Template `yaml:"emergency"`
	// Reply is the free-text reply template; params must use text once and
	// may use tracking_no. Without it, desk replies on this path are
	// refused before anything is sent.
	Reply Template `yaml:"reply"`
	// MaxParamRunes is how many characters the reply's text variable may
	// hold; a longer reply goes out as several SMS [aliyun 35, tencent 6:
	// the providers' defaults for notice templates; raise it when the
	// provider lifted the limit for the template].
	MaxParamRunes int `yaml:"max_param_runes"`
	// MaxReplyParts bounds the SMS one reply may take; a longer reply is
	// refused [5].
	MaxReplyParts int `yaml:"max_reply_parts"`
	// Timeout bounds one API call [10s].
	Timeout time.Duration `yaml:"timeout"`
}

// Template is an approved template and what fills its variables.
type Template struct {
	// ID is the template code (Aliyun SMS_123456) or id (Tencent 123456).
	ID string `yaml:"id"`
	// Params fill the variables, in order (Tencent's {1}, {2}, … are by
	// position; Aliyun's ${name} by name).
	Params []Param `yaml:"params"`
}

// Param fills one template variable.
type Param struct {
	// Name is the variable's name (required for Aliyun).
	Name string `yaml:"name"`
	// Value is what goes in: tracking_no, number (the emergency line) or
	// text (the reply).
	Value string `yaml:"value"`
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
	// DedupeWindow overrides sms.dedupe_window for this bind: an SMPP
	// deliver_sm carries no message id, so the same bytes from the same
	// number within the window are taken as the SMSC's redelivery.
	DedupeWindow time.Duration `yaml:"dedupe_window"`
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
	for _, p := range []struct {
		s             *Sender
		endpoint, reg string
		maxParamRunes int
	}{{&c.Aliyun.Send, "https://dysmsapi.aliyuncs.com", "cn-hangzhou", 35},
		{&c.Tencent.Send, "https://sms.tencentcloudapi.com", "ap-guangzhou", 6}} {
		if p.s.Endpoint == "" {
			p.s.Endpoint = p.endpoint
		}
		if p.s.Region == "" {
			p.s.Region = p.reg
		}
		seti(&p.s.MaxParamRunes, p.maxParamRunes)
		seti(&p.s.MaxReplyParts, 5)
		set(&p.s.Timeout, 10*time.Second)
	}
	s := &c.SMPP
	set(&s.DedupeWindow, c.DedupeWindow)
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
// field by its YAML path under "sms", every bad field at once.
func (c *Config) Validate() error {
	return errors.Join(c.validateBase(), c.validateSend())
}

func (c *Config) validateBase() error {
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
	if c.SMPP.DedupeWindow < 0 {
		return bad("smpp.dedupe_window", "must not be negative")
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
		"LIANXIN_SMS_ALIYUN_ACCESS_KEY_ID":     &c.Aliyun.Send.KeyID,
		"LIANXIN_SMS_ALIYUN_ACCESS_KEY_SECRET": &c.Aliyun.Send.KeySecret,
		"LIANXIN_SMS_TENCENT_SECRET_ID":        &c.Tencent.Send.KeyID,
		"LIANXIN_SMS_TENCENT_SECRET_KEY":       &c.Tencent.Send.KeySecret,
		"LIANXIN_SMS_TENCENT_TOKEN":            &c.Tencent.Token, "LIANXIN_SMS_GENERIC_SECRET": &c.Generic.Secret,
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

// validateSend checks the cloud senders and the answer rule.
func (c *Config) validateSend() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: sms.%s: %s", ErrConfig, field, fmt.Sprintf(format, args...)))
	}
	for _, p := range []struct {
		name string
		s    *Sender
		env  string
	}{{PathAliyun, &c.Aliyun.Send, "LIANXIN_SMS_ALIYUN_ACCESS_KEY"}, {PathTencent, &c.Tencent.Send, "LIANXIN_SMS_TENCENT_SECRET"}} {
		s, f := p.s, p.name+".send."
		if !s.Enabled {
			continue
		}
		if u, err := url.Parse(s.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(f+"endpoint", "%q is not an http(s) URL", s.Endpoint)
		}
		if s.SignName == "" {
			bad(f+"sign_name", "the approved signature is required")
		}
		idEnv, secretEnv := p.env+"_ID", p.env+"_SECRET"
		if p.name == PathTencent {
			idEnv, secretEnv = p.env+"_ID", p.env+"_KEY"
			if s.SdkAppID == "" {
				bad(f+"sdk_app_id", "the SmsSdkAppId is required")
			}
		}
		if s.KeyID == "" {
			bad(f+"key_id", "missing (set %s)", idEnv)
		}
		if s.KeySecret == "" {
			bad(f+"key_secret", "missing (set %s)", secretEnv)
		}
		if s.Ack.ID == "" && !c.NoAck {
			bad(f+"ack.id", "the acknowledgement template is required (or set sms.no_ack)")
		}
		for _, t := range []struct {
			name   string
			t      Template
			values []string
		}{{"ack", s.Ack, []string{"tracking_no"}}, {"emergency", s.Emergency, []string{"tracking_no", "number"}},
			{"reply", s.Reply, []string{"tracking_no", "text"}}} {
			if t.t.ID == "" {
				if len(t.t.Params) > 0 {
					bad(f+t.name+".id", "params are given but no template id")
				}
				continue
			}
			seen, texts := map[string]bool{}, 0
			for i, prm := range t.t.Params {
				pf := fmt.Sprintf("%s%s.params[%d]", f, t.name, i)
				if !slices.Contains(t.values, prm.Value) {
					bad(pf+".value", "%q is not one of %s", prm.Value, strings.Join(t.values, ", "))
				}
				if prm.Value == "text" {
					texts++
				}
				if p.name == PathAliyun {
					if prm.Name == "" {
						bad(pf+".name", "Aliyun templates fill variables by name: the name is required")
					} else if seen[prm.Name] {
						bad(pf+".name", "%q is given twice", prm.Name)
					}
					seen[prm.Name] = true
				}
			}
			if t.name == "reply" && texts != 1 {
				bad(f+"reply.params", "the reply template needs exactly one param with value text")
			}
		}
		if s.MaxParamRunes < 1 {
			bad(f+"max_param_runes", "must be at least 1")
		}
		if s.MaxReplyParts < 1 || s.MaxReplyParts > 20 {
			bad(f+"max_reply_parts", "must be 1 to 20")
		}
		if s.Timeout <= 0 {
			bad(f+"timeout", "must be positive")
		}
	}
	for from, via := range c.Answer.Via {
		if !slices.Contains([]string{PathAliyun, PathTencent, "generic", PathSMPP}, from) {
			bad("answer.via."+from, "%q is not where an SMS comes from (aliyun, tencent, generic, smpp)", from)
			continue
		}
		if !c.canSend(via) {
			bad("answer.via."+from, "%q cannot send SMS (want aliyun or tencent with send enabled, or smpp as transceiver)", via)
		}
	}
	if c.Answer.Default != "" && !c.canSend(c.Answer.Default) {
		bad("answer.default", "%q cannot send SMS (want aliyun or tencent with send enabled, or smpp as transceiver)",
			c.Answer.Default)
	}
	return errors.Join(errs...)
}

// canSend reports whether path can send SMS as configured.
func (c *Config) canSend(path string) bool {
	switch path {
	case PathAliyun:
		return c.Aliyun.Send.Enabled
	case PathTencent:
		return c.Tencent.Send.Enabled
	case PathSMPP:
		return c.SMPP.Enabled && c.SMPP.Mode != "receiver"
	}
	return false
}

// noSendPath is said when SMS comes in and nothing can send (cannotSend).
const noSendPath = "SMS comes in but no path can send it (no SMPP transceiver bind, no cloud provider with send " +
	"enabled): citizens who text get no acknowledgement, no reply and no rating question"

// cannotSend says whether SMS comes in (SMPP, Aliyun, Tencent or the
// generic push) but no path can send.
func (c *Config) cannotSend() bool {
	intake := c.SMPP.Enabled || c.Aliyun.Enabled || c.Tencent.Enabled || c.Generic.Enabled
	return intake && c.answerPath("") == ""
}

// Warnings names what a valid configuration leaves citizens without: SMS
// taken in with no path to send. New logs it at start; lianxin
// check-config prints it.
func (c Config) Warnings() []string {
	c.defaults()
	if c.cannotSend() {
		return []string{"sms: " + noSendPath}
	}
	return nil
}

// answerPath is the path that answers an SMS that came from "from" (""
// when unknown, e.g. a letter's citizen), or "" when nothing can send.
func (c *Config) answerPath(from string) string {
	if via, ok := c.Answer.Via[from]; ok {
		return via
	}
	if from != "" && from != "generic" && c.canSend(from) {
		return from
	}
	if c.Answer.Default != "" {
		return c.Answer.Default
	}
	for _, p := range []string{PathSMPP, PathAliyun, PathTencent} {
		if c.canSend(p) {
			return p
		}
	}
	return ""
}
