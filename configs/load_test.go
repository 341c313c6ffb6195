package configs

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testdata = "../testdata/config/"

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Default()
	require.NoError(t, err)
	host, _ := os.Hostname()
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"node_id", c.NodeID, host},
		{"http.addr", c.HTTP.Addr, ":8080"},
		{"http.drain_timeout", c.HTTP.DrainTimeout, 10 * time.Second},
		{"sip.addr", c.SIP.Addr, ":5060"},
		{"smtp.addr", c.SMTP.Addr, ":2525"},
		{"redis.url", c.Redis.URL, ""},
		{"redis.tag", c.Redis.Tag, "lianxin"},
		{"queue.offer_timeout", c.Queue.OfferTimeout, 20 * time.Second},
		{"queue.max_misses", c.Queue.MaxMisses, 3},
		{"queue.heartbeat", c.Queue.Heartbeat, time.Second},
		{"queue.node_ttl", c.Queue.NodeTTL, 5 * time.Second},
		{"queue.sweep", c.Queue.Sweep, 250 * time.Millisecond},
		{"queue.retention", c.Queue.Retention, 168 * time.Hour},
		{"queue.keep_events", c.Queue.KeepEvents, time.Hour},
		{"queue.max_event_lag", c.Queue.MaxEventLag, 24 * time.Hour},
		{"queue.legacy_events", c.Queue.LegacyEvents, false},
		{"auth.token_ttl", c.Auth.TokenTTL, 12 * time.Hour},
		{"auth.renew_warning", c.Auth.RenewWarning, 15 * time.Minute},
		{"blobs.dir", c.Blobs.Dir, "data/blobs"},
		{"mailbox.max_attachments", c.Mailbox.MaxAttachments, 5},
		{"mailbox.max_attachment_bytes", c.Mailbox.MaxAttachmentBytes, int64(10 << 20)},
		{"mailbox.max_letter_bytes", c.Mailbox.MaxLetterBytes, int64(32 << 20)},
		{"mailbox.max_text_runes", c.Mailbox.MaxTextRunes, 10000},
		{"directory", c.Directory, DirectoryFiles{}},
		{"len(queues)", len(c.Queues), 14},
		{"len(agents)", len(c.Agents), 5},
	} {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.want, tc.got) })
	}
}

func TestEnterpriseQueueOutranksGeneral(t *testing.T) {
	c, err := Default()
	require.NoError(t, err)
	prio := map[string]int{}
	for _, q := range c.Queues {
		prio[q.Name] = q.Priority
	}
	require.Equal(t, 0, prio["general"])
	require.Greater(t, prio["enterprise"], prio["general"])
}

func TestLoadFileOverDefaults(t *testing.T) {
	c, err := Load(testdata+"valid.yaml", nil)
	require.NoError(t, err)
	require.Equal(t, "node-a", c.NodeID)
	require.Equal(t, ":9090", c.HTTP.Addr)
	require.Equal(t, 10*time.Second, c.HTTP.DrainTimeout, "a mapping merges key by key")
	require.Equal(t, 15*time.Second, c.Queue.OfferTimeout)
	require.Equal(t, 3, c.Queue.MaxMisses)
	require.Equal(t, "redis://localhost:6379/2", c.Redis.URL)
	require.Len(t, c.Agents, 1, "the agents list replaces the default list")
	require.Equal(t, "2001", c.Agents[0].ID)
	require.Equal(t, DefaultCapacity(), c.Agents[0].Capacity, "absent capacity takes the default")
}

func TestListsReplaceDefaults(t *testing.T) {
	for _, tc := range []struct {
		name             string
		yaml             string
		queues, agents   int
		firstQ, firstAID string
	}{
		{"no lists", "http: {addr: ':1'}", 14, 5, "general", "1001"},
		{"null lists keep defaults", "queues: ~\nagents: ~\n", 14, 5, "general", "1001"},
		{"empty agents", "agents: []\n", 14, 0, "general", ""},
		{"agents", "agents:\n  - {id: '900', name: 甲, password_hash: " + demoHash + ", skills: {urban: 2}}\n", 14, 1, "general", "900"},
		{"queues", "sip: {menus: {}}\nqueues:\n  - {name: general, title: 综合, priority: 0}\n  - {name: urban, title: 城管, priority: 1}\n" +
			"agents:\n  - {id: '900', name: 甲, password_hash: " + demoHash + ", skills: {urban: 2}}\n", 2, 1, "general", "900"},
		{"queues reordered", "sip: {menus: {}}\nqueues:\n  - {name: urban, title: 城管, priority: 1}\n  - {name: general, title: 综合, priority: 0}\n" +
			"agents: []\n", 2, 0, "urban", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := decode([]byte(tc.yaml), "t.yaml")
			require.NoError(t, err)
			require.NoError(t, c.Validate())
			require.Len(t, c.Queues, tc.queues)
			require.Len(t, c.Agents, tc.agents)
			require.Equal(t, tc.firstQ, c.Queues[0].Name)
			if tc.agents > 0 {
				require.Equal(t, tc.firstAID, c.Agents[0].ID)
			}
			if tc.firstAID == "900" {
				require.Equal(t, map[string]int{"urban": 2}, c.Agents[0].Skills, "not merged with 1001's skills")
			}
		})
	}
}

func TestLoadDoesNotShareDefaults(t *testing.T) {
	a, err := Default()
	require.NoError(t, err)
	a.Agents[0].Skills["general"] = 1
	a.Queues[0].Title = "changed"
	b, err := Default()
	require.NoError(t, err)
	require.Equal(t, 5, b.Agents[0].Skills["general"])
	require.Equal(t, "综合受理", b.Queues[0].Title)
}

func TestEnvOverrides(t *testing.T) {
	for _, tc := range []struct {
		env   map[string]string
		field func(*Config) string
		want  string
	}{
		{map[string]string{EnvRedisURL: "redis://r:6379/1"}, func(c *Config) string { return c.Redis.URL }, "redis://r:6379/1"},
		{map[string]string{EnvHTTPAddr: "127.0.0.1:9000"}, func(c *Config) string { return c.HTTP.Addr }, "127.0.0.1:9000"},
		{map[string]string{EnvNodeID: "node-7"}, func(c *Config) string { return c.NodeID }, "node-7"},
		{map[string]string{EnvSIPAddr: ":5070"}, func(c *Config) string { return c.SIP.Addr }, ":5070"},
		{map[string]string{EnvSMTPAddr: ":25"}, func(c *Config) string { return c.SMTP.Addr }, ":25"},
		{map[string]string{EnvHTTPAddr: ""}, func(c *Config) string { return c.HTTP.Addr }, ":9090"}, // empty: unset
	} {
		for name := range tc.env {
			t.Run(name, func(t *testing.T) {
				c, err := Load(testdata+"valid.yaml", env(tc.env)) // the file sets node_id and http.addr
				require.NoError(t, err)
				require.Equal(t, tc.want, tc.field(c))
			})
		}
	}
}

// The DKIM key comes from the environment; without a selector in the file
// the config is refused, naming the field.
func TestEnvDKIMKey(t *testing.T) {
	_, err := Load("", env(map[string]string{"LIANXIN_SMTP_DKIM_KEY_FILE": "/etc/lianxin/dkim.pem"}))
	require.ErrorContains(t, err, "smtp.dkim.selector")
	c, err := Load("", env(map[string]string{"LIANXIN_SMTP_DKIM_KEY": "-----BEGIN PRIVATE KEY-----"}))
	require.ErrorContains(t, err, "smtp.dkim.selector")
	require.Nil(t, c)
	c, err = Load("", nil)
	require.NoError(t, err)
	require.Empty(t, c.SMTP.DKIM.KeyFile, "unsigned unless configured")
}

func TestEnvOverrideIsValidated(t *testing.T) {
	_, err := Load("", env(map[string]string{EnvRedisURL: "mysql://db", EnvHTTPAddr: "8080"}))
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, "redis.url: redis: invalid URL scheme: mysql")
	require.ErrorContains(t, err, `http.addr: "8080" is not host:port`)
}

func TestPathFromEnv(t *testing.T) {
	require.Equal(t, "/etc/lianxin.yaml", PathFromEnv(env(map[string]string{EnvConfig: "/etc/lianxin.yaml"})))
	require.Equal(t, "", PathFromEnv(env(nil)))
	require.Equal(t, "", PathFromEnv(nil))
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(testdata+"nope.yaml", nil)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestParseStrict(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"unknown field", "http:\n  addr: ':1'\nqueue:\n  offer_timout: 20s\n", 4, `queue: unknown field "offer_timout"`},
		{"unknown top-level field", "node_id: a\nredis_url: x\n", 2, `unknown field "redis_url"`},
		{"unknown agent field", "agents:\n  - id: '1001'\n    pasword: demo\n", 3, `agents[0]: unknown field "pasword"`},
		{"duplicate key", "http:\n  addr: ':1'\n  addr: ':2'\n", 3, `mapping key "addr" already defined at [2:3]`},
		{"bad duration", "queue:\n  sweep: 5\n", 2, `queue.sweep: "5" is not a duration such as 20s, 250ms or 12h`},
		{"bad int", "queue:\n  max_misses: three\n", 2, `queue.max_misses: "three" is not a whole number`},
		{"list for mapping", "http: [1]\n", 1, "sequence was used where mapping is expected"},
		{"syntax", "queues: [\n  {name: a\n", 2, "could not find flow mapping end token '}'"},
		{"two documents", "node_id: a\n---\nnode_id: b\n", 3, "more than one YAML document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "x.yaml")
			require.ErrorIs(t, err, ErrSyntax)
			var le *LineError
			require.True(t, errors.As(err, &le), "%T %v", err, err)
			require.Equal(t, tc.line, le.Line, le.Error())
			require.Contains(t, le.Error(), tc.msg)
			require.Regexp(t, `^x\.yaml:\d+: `, le.Error())
		})
	}
}

func TestParseEmptyKeepsDefaults(t *testing.T) {
	for _, data := range []string{"", "# nothing\n", "---\n", "~\n"} {
		c, err := Parse([]byte(data), "empty.yaml")
		require.NoError(t, err, "%q", data)
		require.Equal(t, ":8080", c.HTTP.Addr)
		require.Len(t, c.Agents, 5)
	}
}

// An emergency line's secret comes from the environment: the file names
// the line with its webhook, LIANXIN_SIP_TRANSFER_<LINE>_SECRET gives the
// secret; without it the config is refused, naming the field.
func TestEnvTransferSecret(t *testing.T) {
	f := t.TempDir() + "/lianxin.yaml"
	require.NoError(t, os.WriteFile(f, []byte("sip:\n  transfer:\n    targets:\n      \"120\": {uri: \"sip:120@10.20.0.5\", "+
		"webhook: \"https://120.example.gov.cn/pushes\"}\n"), 0o600))
	_, err := Load(f, env(nil))
	require.ErrorContains(t, err, "sip.transfer.targets.120.secret")
	c, err := Load(f, env(map[string]string{"LIANXIN_SIP_TRANSFER_120_SECRET": "0123456789abcdef-120"}))
	require.NoError(t, err)
	require.Equal(t, "0123456789abcdef-120", c.SIP.Transfer.Targets["120"].Secret)
}
