package configs

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/linkage"
	"github.com/lianxin/lianxin/sip"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// demoHash is agent 1001's hash of "demo".
const demoHash = "$2a$10$Eizh5WjwBVbJTNsoEl/TyuHl92g1yCZ65RVdLAAYX58hzCpgfHUea"

func fieldErrors(err error) []string {
	var out []string
	for _, e := range leaves(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, fe.Error())
		} else {
			out = append(out, "not a FieldError: "+e.Error())
		}
	}
	return out
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		want   []string
	}{
		{"defaults", func(*Config) {}, nil},
		{"offer timeout", func(c *Config) { c.Queue.OfferTimeout = 0 }, []string{"queue.offer_timeout: must be > 0"}},
		{"renew warning", func(c *Config) { c.Auth.RenewWarning = -time.Minute }, []string{"auth.renew_warning: must be > 0"}},
		{"node ttl", func(c *Config) { c.Queue.NodeTTL = c.Queue.Heartbeat },
			[]string{"queue.node_ttl: must be longer than queue.heartbeat (1s)"}},
		{"node id", func(c *Config) { c.NodeID = "a b" }, []string{`node_id: "a b": no spaces, control characters or braces`}},
		{"redis tag", func(c *Config) { c.Redis.Tag = "{x}" }, []string{`redis.tag: "{x}": no spaces, control characters or braces`}},
		{"redis url", func(c *Config) { c.Redis.URL = "mysql://x" }, []string{"redis.url: redis: invalid URL scheme: mysql"}},
		{"redis url ok", func(c *Config) { c.Redis.URL = "rediss://u:p@h:6380/3" }, nil},
		{"blobs backend", func(c *Config) { c.Blobs.Backend = "nfs" }, []string{`blobs.backend: must be dir or s3, not "nfs"`}},
		{"blobs s3", func(c *Config) {
			c.Blobs.Backend = "s3"
			c.Blobs.Endpoint = "s3.internal:9000"
			c.Blobs.AccessKey = "k"
		},
			[]string{`blobs.endpoint: must be http(s)://host[:port] for the s3 backend, not "s3.internal:9000"`,
				"blobs.bucket: must be set for the s3 backend",
				"blobs.secret_key: LIANXIN_BLOBS_ACCESS_KEY and LIANXIN_BLOBS_SECRET_KEY go together"}},
		{"blobs s3 ok", func(c *Config) {
			c.Blobs.Backend, c.Blobs.Endpoint, c.Blobs.Bucket = "s3", "https://s3.internal:9000", "lianxin"
		}, nil},
		{"addr", func(c *Config) { c.SIP.Addr = "" }, []string{`sip.addr: must be set, e.g. ":8080"`}},
		{"port", func(c *Config) { c.SMTP.Addr = ":99999" }, []string{`smtp.addr: ":99999": port must be 0–65535`}},
		{"letter size", func(c *Config) { c.Mailbox.MaxLetterBytes = 1 },
			[]string{"mailbox.max_letter_bytes: must be > 0 and >= mailbox.max_attachment_bytes (10485760)"}},
		{"no queues", func(c *Config) { c.Queues, c.Agents, c.SIP.Menus = nil, nil, nil }, []string{"queues: must list at least one queue"}},
		{"duplicate queue", func(c *Config) { c.Queues = append(c.Queues, QueueDef{Name: "urban", Title: "x"}) },
			[]string{`queues[14].name: duplicate queue name "urban" (also queues[9])`}},
		{"queue name and priority", func(c *Config) { c.Queues[1].Name, c.Queues[1].Priority = "Enterprise", 10 },
			[]string{
				`queues[1].name: "Enterprise": must be a lower-case name ([a-z][a-z0-9_]*, at most 32)`,
				"queues[1].priority: 10: must be 0–9",
				`agents[0].skills: unknown queue "enterprise"`,
				`agents[4].skills: unknown queue "enterprise"`,
				`sip.menus.12345.options.2.queue: unknown queue "enterprise"`,
			}},
		{"unknown skill", func(c *Config) { c.Agents[2].Skills["housng"] = 3 }, []string{`agents[2].skills: unknown queue "housng"`}},
		{"proficiency", func(c *Config) { c.Agents[0].Skills["general"] = 0 },
			[]string{"agents[0].skills: general: proficiency 0 must be 1–5"}},
		{"no skills", func(c *Config) { c.Agents[0].Skills = nil }, []string{"agents[0].skills: must name at least one queue"}},
		{"agent id", func(c *Config) { c.Agents[1].ID = "10a2" }, []string{`agents[1].id: "10a2": must be 3–12 digits`}},
		{"agent id long", func(c *Config) { c.Agents[1].ID = "1234567890123" }, []string{`agents[1].id: "1234567890123": must be 3–12 digits`}},
		{"duplicate agent", func(c *Config) { c.Agents[3].ID = "1001" }, []string{`agents[3].id: duplicate agent id "1001" (also agents[0])`}},
		{"plain password", func(c *Config) { c.Agents[4].PasswordHash = "demo" },
			[]string{"agents[4].password_hash: must be a bcrypt hash ($2a$10$…), never a plain password"}},
		{"agent name", func(c *Config) { c.Agents[4].Name = " " }, []string{"agents[4].name: must be set"}},
		{"channel", func(c *Config) { c.Agents[0].Capacity["fax"] = 1 },
			[]string{`agents[0].capacity: unknown channel "fax" (want one of voice sms wechat mailbox web 110-transfer)`}},
		{"capacity", func(c *Config) { c.Agents[0].Capacity["web"] = 51 }, []string{"agents[0].capacity: web: 51 must be 0–50"}},
		{"110 transfer", func(c *Config) { c.Agents[0].Capacity["110-transfer"] = 2 }, nil},
		{"transfer targets", func(c *Config) {
			c.SIP.Trunk.Proxy = "10.0.0.1:5060"
			c.SIP.Transfer.Targets = map[string]linkage.Target{
				"120": {URI: "sip:120@10.20.0.5", Webhook: "https://120.example.gov.cn/pushes", Secret: "0123456789abcdef"}}
		}, nil},
		{"bad callback", func(c *Config) {
			c.SIP.Callback.Key = "12"
			c.SIP.Callback.QuietHours = map[string]string{"12345": "late"}
		}, []string{
			`sip.callback.key: "12": one of 0–9, * or #`,
			`sip.callback.quiet_hours.12345: "late": want HH:MM-HH:MM`,
		}},
		{"bad transfer", func(c *Config) {
			c.SIP.Trunk = sip.Trunk{Proxy: "nowhere", Transport: "sctp", AnswerTimeout: time.Second}
			c.SIP.Transfer.MissReturn = "boss"
			c.SIP.Transfer.Queue = "police"
			c.SIP.Transfer.Targets = map[string]linkage.Target{
				"120": {URI: "tel:120", Webhook: "ftp://x", Secret: "short"},
				"999": {URI: "sip:999@h"},
				"110": {},
			}
		}, []string{
			`sip.trunk.proxy: "nowhere": must be host:port`,
			`sip.trunk.transport: "sctp": must be udp or tcp`,
			`sip.transfer.miss_return: "boss": must be agent or queue`,
			`sip.transfer.queue: unknown queue "police"`,
			`sip.transfer.targets.110: give a uri, a webhook or both`,
			`sip.transfer.targets.120.uri: "tel:120": must be a SIP URI with a host, e.g. sip:120@10.20.0.5`,
			`sip.transfer.targets.120.webhook: "ftp://x": must be an http(s) URL without credentials`,
			`sip.transfer.targets.120.secret: must be at least 16 characters (it signs the pushes; LIANXIN_SIP_TRANSFER_120_SECRET)`,
			`sip.transfer.targets: "999": a target is one of the lines 110, 119, 120, 122`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Default()
			require.NoError(t, err)
			tc.change(c)
			err = c.Validate()
			require.Equal(t, tc.want, fieldErrors(err))
			if tc.want != nil {
				require.ErrorIs(t, err, ErrInvalid)
			}
		})
	}
}

func TestValidateReportsEverything(t *testing.T) {
	_, err := Load(testdata+"bad_values.yaml", nil)
	require.Len(t, fieldErrors(err), 13, "%v", err)
}

func TestDemoAgents(t *testing.T) {
	c, err := Default()
	require.NoError(t, err)
	covered := map[string]bool{}
	for i, a := range c.Agents {
		t.Run(a.ID, func(t *testing.T) {
			require.Equal(t, fmt.Sprint(1001+i), a.ID)
			require.NotEmpty(t, a.Name)
			cost, err := bcrypt.Cost([]byte(a.PasswordHash))
			require.NoError(t, err)
			require.Equal(t, 10, cost)
			require.NoError(t, bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte("demo")))
			require.Equal(t, 1, a.Capacity["voice"])
		})
		for q := range a.Skills {
			covered[q] = true
		}
	}
	require.Contains(t, c.Agents[0].Skills, "general")
	require.Contains(t, c.Agents[0].Skills, "enterprise")
	for _, q := range c.Queues {
		require.True(t, covered[q.Name], "no demo agent has skill %q", q.Name)
	}
}
