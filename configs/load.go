package configs

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/lianxin/lianxin/channels/sms"
	"github.com/lianxin/lianxin/channels/wechat"
	"github.com/lianxin/lianxin/sip"
)

//go:embed default.yaml
var defaultYAML []byte

// Environment variables read by Load (and, for EnvConfig, by PathFromEnv).
// An empty variable counts as unset.
const (
	EnvConfig   = "LIANXIN_CONFIG"    // path of the config file
	EnvNodeID   = "LIANXIN_NODE_ID"   // node_id
	EnvHTTPAddr = "LIANXIN_HTTP_ADDR" // http.addr
	EnvSIPAddr  = "LIANXIN_SIP_ADDR"  // sip.addr
	// EnvSIPAdvertiseIP sets sip.advertise_ip.
	EnvSIPAdvertiseIP = "LIANXIN_SIP_ADVERTISE_IP"
	EnvSMTPAddr       = "LIANXIN_SMTP_ADDR"    // smtp.addr
	EnvMetricsAddr    = "LIANXIN_METRICS_ADDR" // metrics.addr
	EnvRedisURL       = "LIANXIN_REDIS_URL"    // redis.url
	EnvDatabaseURL    = "LIANXIN_DATABASE_URL" // database.url
)

// maxConfigBytes bounds a config file; real ones are a few KiB.
const maxConfigBytes = 4 << 20

// PathFromEnv returns the config file path named by LIANXIN_CONFIG, or "".
func PathFromEnv(getenv func(string) string) string {
	if getenv == nil {
		return ""
	}
	return getenv(EnvConfig)
}

// Load builds the Config of a node: the embedded defaults, then the YAML file
// at path (if path != "") parsed strictly over them, then the environment
// overrides read through getenv (nil reads none), then Validate.
//
// A list given in the file (queues, agents) replaces the default list whole;
// a mapping (http, queue, …) is merged key by key; a key given as null (~)
// keeps its default. Errors in the file are *LineError ("FILE:LINE: …",
// ErrSyntax); invalid values are *FieldError (ErrInvalid), joined.
func Load(path string, getenv func(string) string) (*Config, error) {
	c, err := defaults()
	if err != nil {
		return nil, err
	}
	if path != "" {
		data, err := readFile(path)
		if err != nil {
			return nil, err
		}
		if err := decodeOver(c, data, path); err != nil {
			return nil, err
		}
	}
	applyEnv(c, getenv)
	return finish(c)
}

// Parse is Load for bytes already read, without the environment. filename
// only names the source in errors.
func Parse(data []byte, filename string) (*Config, error) {
	c, err := decode(data, filename)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Default returns the embedded defaults, completed and validated.
func Default() (*Config, error) { return Parse(nil, "default.yaml") }

// decode is Parse without Validate.
func decode(data []byte, filename string) (*Config, error) {
	c, err := defaults()
	if err != nil {
		return nil, err
	}
	if err := decodeOver(c, data, filename); err != nil {
		return nil, err
	}
	complete(c)
	return c, nil
}

func finish(c *Config) (*Config, error) {
	complete(c)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// defaults decodes the embedded default.yaml into a fresh Config, so no two
// Configs share a map or slice.
func defaults() (*Config, error) {
	c := &Config{SMS: sms.DefaultConfig()}
	if err := decodeOver(c, defaultYAML, "default.yaml"); err != nil {
		return nil, fmt.Errorf("embedded defaults: %w", err)
	}
	return c, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxConfigBytes)
	}
	return data, nil
}

// decodeOver decodes one YAML document strictly over c. An empty document
// (nothing, or only comments) leaves c as it is.
func decodeOver(c *Config, data []byte, filename string) (err error) {
	if filename == "" {
		filename = "config"
	}
	defer func() {
		if r := recover(); r != nil { // the YAML library must not take the node down
			err = &LineError{File: filename, Line: 1, Msg: fmt.Sprintf("cannot parse: %v", r), Err: ErrSyntax}
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return yamlError(filename, err, nil)
	}
	var body ast.Node
	for _, doc := range f.Docs {
		if doc.Body == nil {
			continue
		}
		if body != nil {
			return &LineError{File: filename, Line: line(doc.Body), Msg: "more than one YAML document", Err: ErrSyntax}
		}
		body = doc.Body
	}
	if body == nil || body.Type() == ast.NullType {
		return nil
	}
	if errs := typeCheck(filename, body, reflect.TypeOf(c).Elem()); len(errs) > 0 {
		return errors.Join(errs...)
	}
	menus, _, hasMenus := lookup(body, "sip.menus")
	hasMenus = hasMenus && menus != nil && unwrap(menus).Type() != ast.NullType
	if hasMenus {
		c.SIP.Menus = nil // a menus mapping replaces the default menus whole
	}
	if err := yaml.NodeToValue(body, c, yaml.Strict()); err != nil {
		return yamlError(filename, err, body)
	}
	if hasMenus {
		menuDefaults(c.SIP.Menus, menus)
	}
	return nil
}

// Defaults of a menu's keys the file leaves out (sip.Menu).
const (
	DefaultMenuTimeout = 5 * time.Second
	DefaultMenuRetries = 1
)

// menuDefaults fills the keys each menu of the YAML mapping node leaves out:
// prompt "menu-<number>", timeout 5s, retries 1. Only what is absent is
// filled, so an explicit retries: 0 stays 0 and timeout: 0 is reported.
func menuDefaults(menus map[string]sip.Menu, node ast.Node) {
	for number, m := range menus {
		var mn ast.Node
		if kv := mappingKey(node, number); kv != nil {
			mn = kv.Value
		}
		if mappingKey(mn, "prompt") == nil {
			m.Prompt = "menu-" + number
		}
		if mappingKey(mn, "timeout") == nil {
			m.Timeout = DefaultMenuTimeout
		}
		if mappingKey(mn, "retries") == nil {
			m.Retries = DefaultMenuRetries
		}
		menus[number] = m
	}
}

func line(n ast.Node) int {
	if n == nil || n.GetToken() == nil || n.GetToken().Position == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

func applyEnv(c *Config, getenv func(string) string) {
	if getenv == nil {
		return
	}
	for name, field := range map[string]*string{
		EnvNodeID:                         &c.NodeID,
		EnvHTTPAddr:                       &c.HTTP.Addr,
		EnvSIPAddr:                        &c.SIP.Addr,
		EnvSIPAdvertiseIP:                 &c.SIP.AdvertiseIP,
		EnvSMTPAddr:                       &c.SMTP.Addr,
		EnvMetricsAddr:                    &c.Metrics.Addr,
		EnvRedisURL:                       &c.Redis.URL,
		"LIANXIN_REDIS_MASTER_NAME":       &c.Redis.MasterName,
		"LIANXIN_REDIS_PASSWORD":          &c.Redis.Password,
		"LIANXIN_REDIS_SENTINEL_PASSWORD": &c.Redis.SentinelPassword,
		"LIANXIN_BLOBS_ENDPOINT":          &c.Blobs.Endpoint,
		"LIANXIN_BLOBS_BUCKET":            &c.Blobs.Bucket,
		"LIANXIN_BLOBS_ACCESS_KEY":        &c.Blobs.AccessKey,
		"LIANXIN_BLOBS_SECRET_KEY":        &c.Blobs.SecretKey,
		EnvDatabaseURL:                    &c.Database.URL,
	} {
		if v := getenv(name); v != "" {
			*field = v
		}
	}
	if v := getenv("LIANXIN_REDIS_SENTINELS"); v != "" {
		c.Redis.Sentinels = nil
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				c.Redis.Sentinels = append(c.Redis.Sentinels, a)
			}
		}
	}
	c.SMS.ApplyEnv(getenv)
	applyPhoneEnv(c, getenv)
	if v := getenv("LIANXIN_SMTP_RELAY_PASSWORD"); v != "" {
		c.SMTP.Relay.Password = v
	}
	if v := getenv("LIANXIN_SMTP_DKIM_KEY_FILE"); v != "" {
		c.SMTP.DKIM.KeyFile = v
	}
	if v := getenv("LIANXIN_SMTP_DKIM_KEY"); v != "" {
		c.SMTP.DKIM.Key = v
	}
	// Secrets shared with the emergency lines: LIANXIN_SIP_TRANSFER_120_SECRET, …
	for line, t := range c.SIP.Transfer.Targets {
		if v := getenv("LIANXIN_SIP_TRANSFER_" + line + "_SECRET"); v != "" {
			t.Secret = v
			c.SIP.Transfer.Targets[line] = t
		}
	}
	for i := range c.WeChat.Accounts {
		a := &c.WeChat.Accounts[i]
		pre := "LIANXIN_WECHAT_" + wechat.EnvName(a.ID) + "_"
		for suffix, field := range map[string]*string{"TOKEN": &a.Token, "APP_SECRET": &a.AppSecret,
			"ENCODING_AES_KEY": &a.EncodingAESKey, "PREVIOUS_AES_KEY": &a.PreviousAESKey} {
			if v := getenv(pre + suffix); v != "" {
				*field = v
			}
		}
	}
}

// complete fills what defaults cannot: the host name as node_id, and the
// default capacity of agents that give none.
func complete(c *Config) {
	c.WeChat.Defaults()
	c.SMTP = c.SMTP.WithDefaults()
	if c.NodeID == "" {
		if h, err := os.Hostname(); err == nil {
			c.NodeID = h
		}
	}
	for i := range c.Agents {
		if c.Agents[i].Capacity == nil {
			c.Agents[i].Capacity = DefaultCapacity()
		}
		if p := c.Agents[i].Phone; p != nil && p.User == "" {
			p.User = c.Agents[i].ID
		}
	}
}

// DefaultCapacity is an agent's capacity when the config gives none: one
// call, three of each written channel.
func DefaultCapacity() map[string]int {
	return map[string]int{"voice": 1, "sms": 3, "wechat": 3, "mailbox": 3, "web": 3}
}
