package configs

import (
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	gosip "github.com/emiago/sipgo/sip"
	"github.com/lianxin/lianxin/channels/linkage"
	"github.com/lianxin/lianxin/sip"
)

// Limits of the sip section checked by Validate.
const (
	// MinRTPPort: media ports start above the privileged range.
	MinRTPPort = 1024
	// LegsPerCall: a call holds the caller's leg and the agent's, each on
	// one even RTP port; the RTP range must hold LegsPerCall × max_calls
	// even ports, or a node would answer calls it cannot give media to.
	LegsPerCall = 2
	// MaxAnnouncedPosition: positions are spoken by composing num-* prompts,
	// up to thousands (千).
	MaxAnnouncedPosition = 9999
	// MaxMenuRetries bounds how often a menu repeats for a silent caller.
	MaxMenuRetries = 5
)

var (
	lineNumberRE = regexp.MustCompile(`^[0-9]{3,15}$`)
	phoneUserRE  = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,64}$`)
	// menuKeys a menu option may use: * is taken (it repeats the menu).
	menuKeys = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "#"}
)

// sip checks the sip section. Prompts are looked for in the sip.prompts
// folder and then in the embedded Prompts; menu keys are checked against the
// directory by LoadDirectory.
func (v *validator) sip(s sip.Config, queues map[string]bool) {
	v.addr("sip.addr", s.Addr)
	if s.AdvertiseIP != "" {
		ip, err := netip.ParseAddr(s.AdvertiseIP)
		v.check(err == nil && !ip.IsUnspecified() && ip.Zone() == "", "sip.advertise_ip",
			"%q: must be an IP address that peers can reach (not 0.0.0.0 or ::)", s.AdvertiseIP)
	}
	v.rtpPorts(s.RTPPorts, s.MaxCalls)
	v.check(len(s.Trusted) > 0, "sip.trusted", "must list at least one network (CIDR), or no call is taken")
	for i, cidr := range s.Trusted {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			v.add(fieldErr(fmt.Sprintf("sip.trusted[%d]", i), "%q is not a network in CIDR form (e.g. 10.1.2.0/24, 10.1.2.3/32)", cidr))
		}
	}
	v.check(s.MaxCalls >= 1, "sip.max_calls", "must be >= 1")
	v.check(s.TCP.MaxConnections >= 1, "sip.tcp.max_connections", "must be >= 1")
	v.check(s.TCP.MaxConnectionsPerSource >= 1, "sip.tcp.max_connections_per_source", "must be >= 1")
	v.check(s.RetryAfter >= time.Second && s.RetryAfter%time.Second == 0, "sip.retry_after",
		"%s: must be whole seconds, at least 1s (it is sent in Retry-After)", s.RetryAfter)
	v.positive("sip.ring_timeout", s.RingTimeout)
	v.check(s.RingTimeoutBrowser >= 0, "sip.ring_timeout_browser", "%s: must be 0 (as ring_timeout) or positive", s.RingTimeoutBrowser)
	v.positive("sip.media_timeout", s.MediaTimeout)
	switch r := s.Realm; {
	case r == "":
		v.add(fieldErr("sip.realm", "must be set"))
	case strings.ContainsAny(r, `"\`) || strings.IndexFunc(r, unicode.IsControl) >= 0 || len(r) > 128:
		v.add(fieldErr("sip.realm", "%q: no quotes, backslashes or control characters, at most 128 bytes", r))
	}
	reg := s.Register
	v.check(reg.MinExpires >= time.Second, "sip.register.min_expires", "%s: must be at least 1s", reg.MinExpires)
	v.check(reg.MaxExpires >= reg.MinExpires && reg.MaxExpires > 0, "sip.register.max_expires",
		"%s: must be >= sip.register.min_expires (%s)", reg.MaxExpires, reg.MinExpires)

	if s.Prompts != "" {
		if st, err := os.Stat(s.Prompts); err != nil {
			v.add(fieldErr("sip.prompts", "%v", err))
		} else if !st.IsDir() {
			v.add(fieldErr("sip.prompts", "%s is not a folder", s.Prompts))
		}
	}
	c := Config{SIP: s}
	prompts := c.promptsForCheck()
	v.prompt(prompts, s.Prompts, "sip.hold", s.Hold)

	a := s.Announce
	v.positive("sip.announce.first", a.First)
	v.positive("sip.announce.every", a.Every)
	v.check(a.MaxPosition >= 1 && a.MaxPosition <= MaxAnnouncedPosition, "sip.announce.max_position",
		"%d: must be 1–%d", a.MaxPosition, MaxAnnouncedPosition)

	for _, number := range sortedKeys(s.Menus) {
		m := s.Menus[number]
		p := "sip.menus." + number
		if !lineNumberRE.MatchString(number) {
			v.add(keyErr("sip.menus", number, "%q: a menu's key is a line's number (digits, as in the directory)", number))
			continue
		}
		v.prompt(prompts, s.Prompts, p+".prompt", m.Prompt)
		v.positive(p+".timeout", m.Timeout)
		v.check(m.Retries >= 0 && m.Retries <= MaxMenuRetries, p+".retries", "%d: must be 0–%d", m.Retries, MaxMenuRetries)
		v.check(len(m.Options) > 0, p+".options", "must give at least one key")
		for _, key := range sortedKeys(m.Options) {
			o := m.Options[key]
			op := p + ".options." + key
			switch {
			case !slices.Contains(menuKeys, key):
				v.add(keyErr(p+".options", key, "%q: a key is one of 0–9 or # (* repeats the menu)", key))
			case (o.Queue == "") == (o.Answer == ""):
				v.add(keyErr(p+".options", key, "%s: give exactly one of queue and answer", key))
			case o.Queue != "":
				v.check(queues[o.Queue], op+".queue", "unknown queue %q", o.Queue)
			default:
				v.prompt(prompts, s.Prompts, op+".answer", o.Answer)
			}
		}
	}
}

// transfer checks sip.trunk and sip.transfer.
func (v *validator) transfer(s sip.Config, queues map[string]bool) {
	if p := s.Trunk.Proxy; p != "" {
		host, port, err := net.SplitHostPort(p)
		v.check(err == nil && host != "" && port != "", "sip.trunk.proxy", "%q: must be host:port", p)
	}
	v.check(s.Trunk.Transport == "udp" || s.Trunk.Transport == "tcp", "sip.trunk.transport",
		"%q: must be udp or tcp", s.Trunk.Transport)
	v.positive("sip.trunk.answer_timeout", s.Trunk.AnswerTimeout)
	t := s.Transfer
	v.check(t.Boost >= 0 && t.Boost <= 9, "sip.transfer.boost", "%d: must be 0–9", t.Boost)
	v.check(t.MissReturn == "agent" || t.MissReturn == "queue", "sip.transfer.miss_return",
		"%q: must be agent or queue", t.MissReturn)
	v.positive("sip.transfer.window", t.Window)
	if t.Queue != "" {
		v.check(queues[t.Queue], "sip.transfer.queue", "unknown queue %q", t.Queue)
	}
	cb := s.Callback
	v.check(cb.After != 0, "sip.callback.after", "must be set (a negative value offers no callback)")
	v.positive("sip.callback.every", cb.Every)
	v.positive("sip.callback.timeout", cb.Timeout)
	v.positive("sip.callback.retry_every", cb.RetryEvery)
	v.check(len(cb.Key) == 1 && strings.Contains("0123456789*#", cb.Key), "sip.callback.key",
		"%q: one of 0–9, * or #", cb.Key)
	v.check(cb.Retries >= 0 && cb.Retries <= 10, "sip.callback.retries", "%d: must be 0–10", cb.Retries)
	for _, line := range sortedKeys(cb.QuietHours) {
		if _, _, err := sip.ParseQuietHours(cb.QuietHours[line]); err != nil {
			v.add(fieldErr("sip.callback.quiet_hours."+line, "%v", err))
		}
	}
	for _, line := range sortedKeys(t.Targets) {
		tg := t.Targets[line]
		p := "sip.transfer.targets." + line
		if !linkage.IsLine(line) {
			v.add(keyErr("sip.transfer.targets", line, "%q: a target is one of the lines 110, 119, 120, 122", line))
			continue
		}
		if tg.URI != "" {
			var u gosip.Uri
			err := gosip.ParseUri(tg.URI, &u)
			v.check(err == nil && u.Host != "" && (u.Scheme == "sip" || u.Scheme == "sips"), p+".uri",
				"%q: must be a SIP URI with a host, e.g. sip:%s@10.20.0.5", tg.URI, line)
		}
		if tg.Webhook != "" {
			u, err := url.Parse(tg.Webhook)
			v.check(err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil,
				p+".webhook", "%q: must be an http(s) URL without credentials", tg.Webhook)
			v.check(len(tg.Secret) >= 16, p+".secret",
				"must be at least 16 characters (it signs the pushes; LIANXIN_SIP_TRANSFER_%s_SECRET)", line)
		}
		v.check(tg.URI != "" || tg.Webhook != "", p, "give a uri, a webhook or both")
	}
}

func (v *validator) rtpPorts(r sip.PortRange, maxCalls int) {
	switch {
	case r.Min < MinRTPPort || r.Max > 65535:
		v.add(fieldErr("sip.rtp_ports", "%d–%d: must lie within %d–65535", r.Min, r.Max, MinRTPPort))
	case r.Min%2 != 0:
		v.add(fieldErr("sip.rtp_ports.min", "%d: must be even (RTP on even ports, RTCP above)", r.Min))
	case r.Min >= r.Max:
		v.add(fieldErr("sip.rtp_ports", "%d–%d: min must be below max", r.Min, r.Max))
	default:
		legs := (r.Max-r.Min)/2 + 1 // even ports in the range
		if maxCalls > 0 && legs < LegsPerCall*maxCalls {
			v.add(fieldErr("sip.rtp_ports", "%d–%d gives %d legs; sip.max_calls %d needs %d (caller and agent leg each): widen the range or lower max_calls",
				r.Min, r.Max, legs, maxCalls, LegsPerCall*maxCalls))
		}
	}
}

// prompt checks that a referenced prompt exists.
func (v *validator) prompt(prompts fs.FS, folder, path, name string) {
	switch {
	case name == "":
		v.add(fieldErr(path, "must name a prompt"))
	case !validPromptName(name):
		v.add(fieldErr(path, "%q: a prompt's name, not a path (the file is <name>%s)", name, PromptExt))
	case !hasPrompt(prompts, name):
		where := "among the embedded prompts"
		if folder != "" {
			where = "in " + folder + " or among the embedded prompts"
		}
		v.add(fieldErr(path, "no prompt %q: no %s%s %s", name, name, PromptExt, where))
	}
}

// phones checks the agents' phone accounts against each other.
func (v *validator) phones(as []Agent) {
	first := make(map[string]int, len(as))
	for i, a := range as {
		if a.Phone == nil {
			continue
		}
		p := fmt.Sprintf("agents[%d].phone", i)
		user := phoneUser(a)
		if !phoneUserRE.MatchString(user) {
			v.add(fieldErr(p+".user", "%q: 1–64 letters, digits or . _ ~ -", user))
		}
		v.unique(first, user, i, p+".user", "phone user", "agents")
		v.check(a.Phone.HA1MD5 != "" || a.Phone.HA1SHA256 != "", p,
			"give ha1_md5 or ha1_sha256 (lianxin hash-password -phone %s), or the password in %s", user, EnvPhonePassword(a.ID))
		v.hexHash(p+".ha1_md5", a.Phone.HA1MD5, 32)
		v.hexHash(p+".ha1_sha256", a.Phone.HA1SHA256, 64)
	}
}

func (v *validator) hexHash(path, s string, digits int) {
	if s == "" {
		return
	}
	_, err := hex.DecodeString(s)
	v.check(err == nil && len(s) == digits, path, "must be %d hex digits (lianxin hash-password -phone USER), never a password", digits)
}
