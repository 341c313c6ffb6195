package configs

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lianxin/lianxin/sip"
	"github.com/stretchr/testify/require"
)

func TestDefaultSIP(t *testing.T) {
	c, err := Default()
	require.NoError(t, err)
	s := c.SIP
	require.Equal(t, ":5060", s.Addr)
	require.Equal(t, "", s.AdvertiseIP)
	require.Equal(t, sip.PortRange{Min: 20000, Max: 29999}, s.RTPPorts)
	require.Equal(t, []string{"127.0.0.0/8", "::1/128"}, s.Trusted)
	require.Equal(t, 2000, s.MaxCalls)
	require.Equal(t, 30*time.Second, s.RetryAfter)
	require.Equal(t, 20*time.Second, s.RingTimeout)
	require.Equal(t, 15*time.Second, s.MediaTimeout)
	require.Equal(t, "lianxin", s.Realm)
	require.Equal(t, sip.RegisterLimits{MinExpires: time.Minute, MaxExpires: time.Hour}, s.Register)
	require.Equal(t, "", s.Prompts)
	require.Equal(t, "hold", s.Hold)
	require.Equal(t, sip.Announce{First: 15 * time.Second, Every: 30 * time.Second, MaxPosition: 99}, s.Announce)
	require.Len(t, s.Menus, 1)
	m := s.Menus["12345"]
	require.Equal(t, "menu-12345", m.Prompt)
	require.Equal(t, 5*time.Second, m.Timeout)
	require.Equal(t, 1, m.Retries)
	require.Equal(t, map[string]sip.MenuOption{
		"1": {Queue: "general"}, "2": {Queue: "enterprise"}, "3": {Queue: "consumer"}, "4": {Queue: "labour"},
		"8": {Answer: "answer-outage"}, "9": {Answer: "answer-social-card"},
	}, m.Options)
}

func TestValidateSIP(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o644))
	menu := func(c *Config) *sip.Menu {
		m := c.SIP.Menus["12345"]
		m.Options = map[string]sip.MenuOption{"1": {Queue: "general"}}
		c.SIP.Menus["12345"] = m
		return &m
	}
	setMenu := func(c *Config, f func(m *sip.Menu)) {
		m := menu(c)
		f(m)
		c.SIP.Menus["12345"] = *m
	}
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		want   []string
	}{
		{"addr", func(c *Config) { c.SIP.Addr = "5060" }, []string{`sip.addr: "5060" is not host:port`}},
		{"advertise ip", func(c *Config) { c.SIP.AdvertiseIP = "gw.example" },
			[]string{`sip.advertise_ip: "gw.example": must be an IP address that peers can reach (not 0.0.0.0 or ::)`}},
		{"advertise unspecified", func(c *Config) { c.SIP.AdvertiseIP = "0.0.0.0" },
			[]string{`sip.advertise_ip: "0.0.0.0": must be an IP address that peers can reach (not 0.0.0.0 or ::)`}},
		{"advertise v6", func(c *Config) { c.SIP.AdvertiseIP = "2001:db8::5" }, nil},
		{"ports privileged", func(c *Config) { c.SIP.RTPPorts = sip.PortRange{Min: 80, Max: 30000} },
			[]string{"sip.rtp_ports: 80–30000: must lie within 1024–65535"}},
		{"ports odd", func(c *Config) { c.SIP.RTPPorts.Min = 20001 },
			[]string{"sip.rtp_ports.min: 20001: must be even (RTP on even ports, RTCP above)"}},
		{"ports reversed", func(c *Config) { c.SIP.RTPPorts = sip.PortRange{Min: 30000, Max: 20000} },
			[]string{"sip.rtp_ports: 30000–20000: min must be below max"}},
		{"ports too few", func(c *Config) { c.SIP.RTPPorts = sip.PortRange{Min: 20000, Max: 27997} },
			[]string{"sip.rtp_ports: 20000–27997 gives 3999 legs; sip.max_calls 2000 needs 4000 (caller and agent leg each): widen the range or lower max_calls"}},
		{"ports just enough", func(c *Config) { c.SIP.RTPPorts = sip.PortRange{Min: 20000, Max: 27998} }, nil},
		{"trusted", func(c *Config) { c.SIP.Trusted = []string{"10.0.0.0/8", "10.1.2.3", "::1/200"} }, []string{
			`sip.trusted[1]: "10.1.2.3" is not a network in CIDR form (e.g. 10.1.2.0/24, 10.1.2.3/32)`,
			`sip.trusted[2]: "::1/200" is not a network in CIDR form (e.g. 10.1.2.0/24, 10.1.2.3/32)`}},
		{"trusted none", func(c *Config) { c.SIP.Trusted = nil },
			[]string{"sip.trusted: must list at least one network (CIDR), or no call is taken"}},
		{"max calls", func(c *Config) { c.SIP.MaxCalls = 0 }, []string{"sip.max_calls: must be >= 1"}},
		{"durations", func(c *Config) {
			c.SIP.RetryAfter, c.SIP.RingTimeout, c.SIP.MediaTimeout = 1500*time.Millisecond, 0, -time.Second
			c.SIP.Announce.First, c.SIP.Announce.Every = 0, 0
		}, []string{
			"sip.retry_after: 1.5s: must be whole seconds, at least 1s (it is sent in Retry-After)",
			"sip.ring_timeout: must be > 0", "sip.media_timeout: must be > 0",
			"sip.announce.first: must be > 0", "sip.announce.every: must be > 0"}},
		{"register", func(c *Config) { c.SIP.Register = sip.RegisterLimits{MinExpires: 0, MaxExpires: -time.Second} }, []string{
			"sip.register.min_expires: 0s: must be at least 1s",
			"sip.register.max_expires: -1s: must be >= sip.register.min_expires (0s)"}},
		{"realm", func(c *Config) { c.SIP.Realm = `a"b` },
			[]string{`sip.realm: "a\"b": no quotes, backslashes or control characters, at most 128 bytes`}},
		{"max position", func(c *Config) { c.SIP.Announce.MaxPosition = 10000 }, []string{"sip.announce.max_position: 10000: must be 1–9999"}},
		{"prompts folder missing", func(c *Config) { c.SIP.Prompts = filepath.Join(dir, "none") },
			[]string{"sip.prompts: stat " + filepath.Join(dir, "none") + ": no such file or directory"}},
		{"prompts not a folder", func(c *Config) { c.SIP.Prompts = notDir }, []string{"sip.prompts: " + notDir + " is not a folder"}},
		{"prompts folder", func(c *Config) { c.SIP.Prompts = dir }, nil},
		{"hold", func(c *Config) { c.SIP.Hold = "muzak" },
			[]string{`sip.hold: no prompt "muzak": no muzak.wav among the embedded prompts`}},
		{"hold in folder", func(c *Config) { c.SIP.Hold, c.SIP.Prompts = "muzak", dir },
			[]string{`sip.hold: no prompt "muzak": no muzak.wav in ` + dir + ` or among the embedded prompts`}},
		{"hold path", func(c *Config) { c.SIP.Hold = "../hold" },
			[]string{`sip.hold: "../hold": a prompt's name, not a path (the file is <name>.wav)`}},
		{"menu key", func(c *Config) { c.SIP.Menus["12-345"] = c.SIP.Menus["12345"] },
			[]string{`sip.menus: "12-345": a menu's key is a line's number (digits, as in the directory)`}},
		{"menu prompt", func(c *Config) { setMenu(c, func(m *sip.Menu) { m.Prompt = "menu-99999" }) },
			[]string{`sip.menus.12345.prompt: no prompt "menu-99999": no menu-99999.wav among the embedded prompts`}},
		{"menu timing", func(c *Config) { setMenu(c, func(m *sip.Menu) { m.Timeout, m.Retries = 0, 6 }) },
			[]string{"sip.menus.12345.timeout: must be > 0", "sip.menus.12345.retries: 6: must be 0–5"}},
		{"menu empty", func(c *Config) { setMenu(c, func(m *sip.Menu) { m.Options = nil }) },
			[]string{"sip.menus.12345.options: must give at least one key"}},
		{"menu options", func(c *Config) {
			setMenu(c, func(m *sip.Menu) {
				m.Options = map[string]sip.MenuOption{
					"*": {Queue: "general"}, "10": {Queue: "general"}, "1": {}, "2": {Queue: "general", Answer: "answer-outage"},
					"3": {Queue: "parking"}, "4": {Answer: "answer-parking"}, "#": {Queue: "general"}, "0": {Answer: "answer-outage"},
				}
			})
		}, []string{
			`sip.menus.12345.options: "*": a key is one of 0–9 or # (* repeats the menu)`,
			`sip.menus.12345.options: 1: give exactly one of queue and answer`,
			`sip.menus.12345.options: "10": a key is one of 0–9 or # (* repeats the menu)`,
			`sip.menus.12345.options: 2: give exactly one of queue and answer`,
			`sip.menus.12345.options.3.queue: unknown queue "parking"`,
			`sip.menus.12345.options.4.answer: no prompt "answer-parking": no answer-parking.wav among the embedded prompts`,
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

// A menu must belong to a line of the directory, and every line needs its
// welcome prompt; both are checked where the directory is read.
func TestLoadDirectoryChecksVoice(t *testing.T) {
	dir := t.TempDir()
	hotlines := filepath.Join(dir, "h.csv")
	require.NoError(t, os.WriteFile(hotlines, []byte("number,name,topic,queue,priority\n12345,成都市12345政务服务热线,政务服务,general,0\n02899990000,新线,咨询,general,0\n"), 0o644))
	c, err := Default()
	require.NoError(t, err)
	c.Directory.Hotlines = hotlines
	_, err = LoadDirectory(c)
	require.Equal(t, []string{
		hotlines + `:3:1: number: 02899990000: no welcome prompt welcome-02899990000.wav (give one in the sip.prompts folder)`,
	}, checkLines(err))

	c.SIP.Prompts = dir
	recorded := makeWAV(wavPCM, 1, 8000, make([]byte, 320), nil)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "welcome-02899990000.wav"), recorded, 0o644))
	d, err := LoadDirectory(c)
	require.NoError(t, err, "the folder gives the new line its welcome")
	require.Len(t, d.Hotlines, 2)

	c.SIP.Menus["02811112222"] = c.SIP.Menus["12345"]
	_, err = LoadDirectory(c)
	require.Equal(t, []string{`sip.menus: "02811112222" is not a line of ` + hotlines}, checkLines(err))
}
