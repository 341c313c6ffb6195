package wechat

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Account kinds.
const (
	KindOfficial = "official" // 公众号, an official account
	KindWeCom    = "wecom"    // 企业微信, a WeCom app's callback
)

// Message modes of an official account (WeCom is always safe).
const (
	ModePlaintext  = "plaintext"  // 明文模式
	ModeCompatible = "compatible" // 兼容模式: plaintext and Encrypt side by side
	ModeSafe       = "safe"       // 安全模式: Encrypt only
)

// Account is one official account or WeCom app. Its ID is the path segment
// of /channels/wechat/{account} and the Line of its contacts.
type Account struct {
	// ID names the account in paths and contacts [required].
	ID string `yaml:"id"`
	// Name is the line's name the desk shows, e.g. 成都12345.
	Name string `yaml:"name"`
	// Kind: official or wecom [official].
	Kind string `yaml:"kind"`
	// Mode: plaintext, compatible or safe [safe]; wecom is always safe.
	Mode string `yaml:"mode"`
	// Token is the callback token [required; env LIANXIN_WECHAT_<ID>_TOKEN].
	Token string `yaml:"token"`
	// AppID is the official account's AppID or the WeCom CorpID [required].
	AppID string `yaml:"app_id"`
	// AppSecret is the AppSecret or the WeCom app's Secret, for the API
	// [required to reply; env LIANXIN_WECHAT_<ID>_APP_SECRET].
	AppSecret string `yaml:"app_secret"`
	// AgentID is the WeCom app's AgentId [required for wecom].
	AgentID int `yaml:"agent_id"`
	// EncodingAESKey is the 43-character message key [required unless
	// plaintext; env LIANXIN_WECHAT_<ID>_ENCODING_AES_KEY].
	EncodingAESKey string `yaml:"encoding_aes_key"`
	// PreviousAESKey is the key before the last change, still accepted
	// [none; env LIANXIN_WECHAT_<ID>_PREVIOUS_AES_KEY].
	PreviousAESKey string `yaml:"previous_aes_key"`
	// Queue takes the account's contacts [required].
	Queue string `yaml:"queue"`
	// Welcome is the reply to a new follower [Config.Welcome].
	Welcome string `yaml:"welcome"`
}

// Config is the WeChat channel's configuration.
type Config struct {
	// APIBase is the official-account API ["https://api.weixin.qq.com"].
	APIBase string `yaml:"api_base"`
	// WeComAPIBase is the WeCom API ["https://qyapi.weixin.qq.com"].
	WeComAPIBase string `yaml:"wecom_api_base"`
	// Accounts served under /channels/wechat/{id}.
	Accounts []Account `yaml:"accounts"`
	// Welcome is the default reply to a new follower.
	Welcome string `yaml:"welcome"`
	// MaxBodyBytes bounds a callback body [65536].
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// AnswerWithin bounds the work on a callback, inside WeChat's 5 s [4s].
	AnswerWithin time.Duration `yaml:"answer_within"`
	// APITimeout bounds one call to the WeChat API [10s].
	APITimeout time.Duration `yaml:"api_timeout"`
	// SendAttempts is how often a reply is tried on temporary errors [4].
	SendAttempts int `yaml:"send_attempts"`
	// Backoff is the first wait between attempts, doubled each time [500ms].
	Backoff time.Duration `yaml:"backoff"`
	// MaxMediaBytes bounds one image, voice or video fetched [20 MiB].
	MaxMediaBytes int64 `yaml:"max_media_bytes"`
	// MediaWorkers fetch media in the background [2].
	MediaWorkers int `yaml:"media_workers"`
	// ReplyWindow is how long after the citizen's last message the
	// customer-service API accepts replies (official accounts) [48h].
	ReplyWindow time.Duration `yaml:"reply_window"`
}

// DefaultWelcome greets a new follower.
const DefaultWelcome = "感谢关注12345政务服务便民热线！请直接发送文字、图片、语音或位置描述您的诉求，我们将尽快受理并回复。" +
	"受理后您会收到受理编号，可凭编号查询办理进度；请在诉求中写明事发地点和联系方式。" +
	"如遇火灾、急病、治安等紧急情况，请立即拨打119、120、110。"

// Defaults fills the zero values with the defaults in brackets.
func (c *Config) Defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.APIBase, "https://api.weixin.qq.com")
	def(&c.WeComAPIBase, "https://qyapi.weixin.qq.com")
	def(&c.Welcome, DefaultWelcome)
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.AnswerWithin <= 0 {
		c.AnswerWithin = 4 * time.Second
	}
	if c.APITimeout <= 0 {
		c.APITimeout = 10 * time.Second
	}
	if c.SendAttempts <= 0 {
		c.SendAttempts = 4
	}
	if c.Backoff <= 0 {
		c.Backoff = 500 * time.Millisecond
	}
	if c.MaxMediaBytes <= 0 {
		c.MaxMediaBytes = 20 << 20
	}
	if c.MediaWorkers <= 0 {
		c.MediaWorkers = 2
	}
	if c.ReplyWindow <= 0 {
		c.ReplyWindow = 48 * time.Hour
	}
	for i := range c.Accounts {
		a := &c.Accounts[i]
		def(&a.Kind, KindOfficial)
		def(&a.Mode, ModeSafe)
		if a.Kind == KindWeCom {
			a.Mode = ModeSafe
		}
	}
}

// Validate checks a config after Defaults; its errors name the field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("wechat."+field+": "+format, args...))
	}
	for _, f := range []struct{ name, v string }{{"api_base", c.APIBase}, {"wecom_api_base", c.WeComAPIBase}} {
		if u, err := url.Parse(f.v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(f.name, "%q is not an http(s) URL", f.v)
		}
	}
	if c.AnswerWithin >= 5*time.Second {
		bad("answer_within", "%s leaves no room in WeChat's 5 s window; use at most 4.5s", c.AnswerWithin)
	}
	seen := map[string]bool{}
	for i, a := range c.Accounts {
		p := fmt.Sprintf("accounts[%d]", i)
		switch {
		case a.ID == "":
			bad(p+".id", "is required")
		case len(a.ID) > 64 || strings.ContainsFunc(a.ID, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
		}):
			bad(p+".id", "%q: use at most 64 letters, digits, - and _", a.ID)
		case seen[a.ID]:
			bad(p+".id", "%q is used twice", a.ID)
		}
		seen[a.ID] = true
		if a.Kind != KindOfficial && a.Kind != KindWeCom {
			bad(p+".kind", "%q: use official or wecom", a.Kind)
		}
		if a.Mode != ModePlaintext && a.Mode != ModeCompatible && a.Mode != ModeSafe {
			bad(p+".mode", "%q: use plaintext, compatible or safe", a.Mode)
		}
		if a.Token == "" {
			bad(p+".token", "is required (env LIANXIN_WECHAT_%s_TOKEN)", EnvName(a.ID))
		}
		if a.AppID == "" {
			bad(p+".app_id", "is required (the AppID, or the CorpID for wecom)")
		}
		if a.Queue == "" {
			bad(p+".queue", "is required")
		}
		if a.Kind == KindWeCom && a.AgentID <= 0 {
			bad(p+".agent_id", "is required for a wecom app")
		}
		if a.Mode != ModePlaintext || a.EncodingAESKey != "" {
			if _, err := aesKey(a.EncodingAESKey); err != nil {
				bad(p+".encoding_aes_key", "%v (env LIANXIN_WECHAT_%s_ENCODING_AES_KEY)", err, EnvName(a.ID))
			}
		}
		if a.PreviousAESKey != "" {
			if _, err := aesKey(a.PreviousAESKey); err != nil {
				bad(p+".previous_aes_key", "%v", err)
			}
		}
	}
	return errors.Join(errs...)
}

// EnvName is an account id as it appears in environment variables:
// upper case, - as _.
func EnvName(id string) string { return strings.ToUpper(strings.ReplaceAll(id, "-", "_")) }

// noSecret is said of an account without app_secret.
const noSecret = "without app_secret: no reply, no rating question and no media fetch can go through " +
	"WeChat's API for its citizens"

// Warnings names what a valid configuration leaves citizens without: each
// account without app_secret. New logs them at start; lianxin
// check-config prints them.
func (c Config) Warnings() []string {
	var out []string
	for i, a := range c.Accounts {
		if a.AppSecret == "" {
			out = append(out, fmt.Sprintf("wechat.accounts[%d].app_secret (env LIANXIN_WECHAT_%s_APP_SECRET): account %s %s",
				i, EnvName(a.ID), a.ID, noSecret))
		}
	}
	return out
}
