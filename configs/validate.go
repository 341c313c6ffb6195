package configs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/lianxin/lianxin/channels/connlimit"
	"github.com/lianxin/lianxin/queue"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

// channels are the contact channels an agent's capacity may name: the
// queue's list (queue.Channels), the one place they are listed.
var channels = func() []string {
	out := make([]string, len(queue.Channels))
	for i, c := range queue.Channels {
		out[i] = string(c)
	}
	return out
}()

// Limits checked by Validate.
const (
	MaxPriority    = 9
	MinProficiency = 1
	MaxProficiency = 5
	MaxCapacity    = 50
)

var (
	queueNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	agentIDRE   = regexp.MustCompile(`^[0-9]{3,12}$`)
)

// Validate checks every field and returns all problems at once, joined with
// errors.Join; each is a *FieldError naming the field by its YAML path.
func (c *Config) Validate() error {
	var v validator
	v.name("node_id", c.NodeID, 128)
	v.addr("http.addr", c.HTTP.Addr)
	v.positive("http.drain_timeout", c.HTTP.DrainTimeout)
	v.check(c.HTTP.MaxConnections > 0, "http.max_connections", "must be > 0")
	v.check(c.HTTP.MaxConnectionsPerSource > 0, "http.max_connections_per_source", "must be > 0")
	if _, err := connlimit.ParsePrefixes(c.HTTP.TrustedProxies); err != nil {
		v.add(fieldErr("http.trusted_proxies", "%v", err))
	}
	if c.Metrics.Addr != "" {
		v.addr("metrics.addr", c.Metrics.Addr)
	}
	v.addr("smtp.addr", c.SMTP.Addr)
	if c.Redis.URL != "" {
		if opt, err := redis.ParseURL(c.Redis.URL); err != nil {
			v.add(fieldErr("redis.url", "%v", err))
		} else if opt.PoolSize != 0 && opt.PoolSize < MinPoolSize {
			v.add(fieldErr("redis.url", "pool_size must be >= %d", MinPoolSize))
		}
	}
	v.name("redis.tag", c.Redis.Tag, 64)
	if len(c.Redis.Sentinels) > 0 {
		v.check(c.Redis.MasterName != "", "redis.master_name", "must be set with redis.sentinels")
		for i, a := range c.Redis.Sentinels {
			v.addr(fmt.Sprintf("redis.sentinels[%d]", i), a)
		}
	} else {
		v.check(c.Redis.MasterName == "", "redis.master_name", "is used only with redis.sentinels")
	}
	v.check(c.Redis.WaitReplicas >= 0, "redis.wait_replicas", "must be >= 0")
	v.check(c.Redis.PoolSize >= MinPoolSize, "redis.pool_size", "must be >= %d", MinPoolSize)
	if c.Redis.WaitReplicas > 0 {
		v.positive("redis.wait_timeout", c.Redis.WaitTimeout)
		v.check(c.Redis.URL != "" || len(c.Redis.Sentinels) > 0, "redis.wait_replicas",
			"needs a real Redis (redis.url or redis.sentinels); the embedded store has no replicas")
	}

	q := c.Queue
	v.positive("queue.offer_timeout", q.OfferTimeout)
	v.check(q.MaxMisses >= 1, "queue.max_misses", "must be >= 1")
	v.positive("queue.heartbeat", q.Heartbeat)
	v.check(q.NodeTTL > q.Heartbeat, "queue.node_ttl", "must be longer than queue.heartbeat (%v)", q.Heartbeat)
	v.positive("queue.sweep", q.Sweep)
	v.positive("queue.retention", q.Retention)
	v.positive("queue.keep_events", q.KeepEvents)
	v.check(q.MaxEventLag > q.KeepEvents, "queue.max_event_lag", "must be longer than queue.keep_events (%v)",
		q.KeepEvents)
	v.positive("auth.token_ttl", c.Auth.TokenTTL)
	v.positive("auth.renew_warning", c.Auth.RenewWarning)
	v.check(c.Auth.LoginHashesPerSecond > 0, "auth.login_hashes_per_second", "must be > 0")
	v.check(strings.TrimSpace(c.Blobs.Dir) != "", "blobs.dir", "must be set")
	v.check(c.Blobs.Backend == "dir" || c.Blobs.Backend == "s3", "blobs.backend", "must be dir or s3, not %q", c.Blobs.Backend)
	if c.Blobs.Backend == "s3" {
		u, err := url.Parse(c.Blobs.Endpoint)
		v.check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && (u.Path == "" || u.Path == "/"),
			"blobs.endpoint", "must be http(s)://host[:port] for the s3 backend, not %q", c.Blobs.Endpoint)
		v.check(c.Blobs.Bucket != "", "blobs.bucket", "must be set for the s3 backend")
		v.check((c.Blobs.AccessKey == "") == (c.Blobs.SecretKey == ""), "blobs.secret_key",
			"LIANXIN_BLOBS_ACCESS_KEY and LIANXIN_BLOBS_SECRET_KEY go together")
	}
	if u := c.Database.URL; u != "" {
		v.check(strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://"), "database.url",
			"must be a postgres:// URL")
	}
	v.positive("database.retention", c.Database.Retention)
	v.positive("database.keep_events", c.Database.KeepEvents)
	v.check(c.Database.Batch > 0, "database.batch", "must be > 0")
	v.positive("database.lag_alert", c.Database.LagAlert)
	for ch, d := range c.Reports.ResponseTargets {
		v.positive("reports.response_targets."+ch, d)
	}

	m := c.Mailbox
	v.check(m.MaxAttachments >= 0, "mailbox.max_attachments", "must be >= 0")
	v.check(m.MaxAttachmentBytes > 0, "mailbox.max_attachment_bytes", "must be > 0")
	v.check(m.MaxLetterBytes >= m.MaxAttachmentBytes && m.MaxLetterBytes > 0,
		"mailbox.max_letter_bytes", "must be > 0 and >= mailbox.max_attachment_bytes (%d)", m.MaxAttachmentBytes)
	v.check(m.MaxTextRunes > 0, "mailbox.max_text_runes", "must be > 0")
	v.check(m.MaxUploads > 0, "mailbox.max_uploads", "must be > 0")

	queues := v.queues(c.Queues)
	v.agents(c.Agents, queues)
	v.phones(c.Agents)
	v.sip(c.SIP, queues)
	v.transfer(c.SIP, queues)
	v.ivr(c.SIP, c.Rating, c.promptsForCheck())
	v.channelErrors("wechat", c.WeChat.Validate())
	for i, a := range c.WeChat.Accounts {
		v.check(a.Queue == "" || queues[a.Queue], fmt.Sprintf("wechat.accounts[%d].queue", i), "unknown queue %q", a.Queue)
	}
	v.channelErrors("sms", c.SMS.Validate())
	v.channelErrors("smtp", c.SMTP.Validate())
	if c.SMS.Aliyun.Enabled || c.SMS.Tencent.Enabled || c.SMS.Generic.Enabled || c.SMS.SMPP.Enabled {
		v.check(queues[c.SMS.Queue], "sms.queue", "unknown queue %q", c.SMS.Queue)
	}
	for i, r := range c.SMS.Routes {
		v.check(queues[r.Queue], fmt.Sprintf("sms.routes[%d].queue", i), "unknown queue %q", r.Queue)
	}
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) add(e *FieldError) { v.errs = append(v.errs, e) }

func (v *validator) check(ok bool, path, format string, args ...any) {
	if !ok {
		v.add(fieldErr(path, format, args...))
	}
}

func (v *validator) positive(path string, d time.Duration) {
	v.check(d > 0, path, "must be > 0")
}

// name checks an identifier that goes into Redis keys and logs.
func (v *validator) name(path, s string, max int) {
	switch {
	case s == "":
		v.add(fieldErr(path, "must be set"))
	case len(s) > max:
		v.add(fieldErr(path, "longer than %d bytes", max))
	case strings.ContainsAny(s, "{}") || strings.IndexFunc(s, unicode.IsSpace) >= 0 ||
		strings.IndexFunc(s, unicode.IsControl) >= 0:
		v.add(fieldErr(path, "%q: no spaces, control characters or braces", s))
	}
}

func (v *validator) addr(path, s string) {
	if s == "" {
		v.add(fieldErr(path, "must be set, e.g. \":8080\""))
		return
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		v.add(fieldErr(path, "%q is not host:port", s))
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(fieldErr(path, "%q: port must be 0–65535", s))
	}
}

// unique reports key, at index i of list, when an earlier entry has it too.
func (v *validator) unique(first map[string]int, key string, i int, path, what, list string) {
	if j, dup := first[key]; dup {
		v.add(fieldErr(path, "duplicate %s %q (also %s[%d])", what, key, list, j))
		return
	}
	first[key] = i
}

// queues checks the queue list and returns the set of its names.
func (v *validator) queues(qs []QueueDef) map[string]bool {
	names := make(map[string]bool, len(qs))
	v.check(len(qs) > 0, "queues", "must list at least one queue")
	first := make(map[string]int, len(qs))
	for i, q := range qs {
		p := fmt.Sprintf("queues[%d]", i)
		if !queueNameRE.MatchString(q.Name) {
			v.add(fieldErr(p+".name", "%q: must be a lower-case name ([a-z][a-z0-9_]*, at most 32)", q.Name))
		}
		v.unique(first, q.Name, i, p+".name", "queue name", "queues")
		names[q.Name] = true
		v.check(strings.TrimSpace(q.Title) != "", p+".title", "must be set")
		v.check(q.Priority >= 0 && q.Priority <= MaxPriority, p+".priority", "%d: must be 0–%d", q.Priority, MaxPriority)
	}
	for i, q := range qs {
		var prev time.Duration
		for j, st := range q.Escalation {
			sp := fmt.Sprintf("queues[%d].escalation[%d]", i, j)
			v.check(names[st.To] && st.To != q.Name, sp+".to", "%q: must be another queue of this list", st.To)
			v.check(st.After > prev, sp+".after", "%s: must be > 0 and later than the step before", st.After)
			prev = st.After
		}
	}
	return names
}

func (v *validator) agents(as []Agent, queues map[string]bool) {
	first := make(map[string]int, len(as))
	for i, a := range as {
		p := fmt.Sprintf("agents[%d]", i)
		if !agentIDRE.MatchString(a.ID) {
			v.add(fieldErr(p+".id", "%q: must be 3–12 digits", a.ID))
		}
		v.unique(first, a.ID, i, p+".id", "agent id", "agents")
		v.check(strings.TrimSpace(a.Name) != "", p+".name", "must be set")
		if _, err := bcrypt.Cost([]byte(a.PasswordHash)); err != nil {
			v.add(fieldErr(p+".password_hash", "must be a bcrypt hash ($2a$10$…), never a plain password"))
		}
		v.check(a.Role == "" || a.Role == "agent" || a.Role == "supervisor", p+".role",
			"%q: must be agent or supervisor", a.Role)
		v.check(len(a.Skills) > 0, p+".skills", "must name at least one queue")
		for _, q := range sortedKeys(a.Skills) {
			switch n := a.Skills[q]; {
			case !queues[q]:
				v.add(keyErr(p+".skills", q, "unknown queue %q", q))
			case n < MinProficiency || n > MaxProficiency:
				v.add(keyErr(p+".skills", q, "%s: proficiency %d must be %d–%d", q, n, MinProficiency, MaxProficiency))
			}
		}
		for _, ch := range sortedKeys(a.Capacity) {
			switch n := a.Capacity[ch]; {
			case !slices.Contains(channels, ch):
				v.add(keyErr(p+".capacity", ch, "unknown channel %q (want one of %s)", ch, strings.Join(channels, " ")))
			case n < 0 || n > MaxCapacity:
				v.add(keyErr(p+".capacity", ch, "%s: %d must be 0–%d", ch, n, MaxCapacity))
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// channelErrors takes a channel's own validation errors, each saying
// "section.path: message", as field errors, so check-config can place them
// on their lines.
func (v *validator) channelErrors(section string, err error) {
	for _, e := range leaves(err) {
		msg := e.Error()
		if i := strings.Index(msg, section+"."); i >= 0 {
			msg = msg[i:]
		}
		path, text, ok := strings.Cut(msg, ": ")
		if !ok {
			path, text = section, msg
		}
		v.add(fieldErr(path, "%s", text))
	}
}
