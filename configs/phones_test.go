package configs

import (
	"crypto/md5"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/lianxin/lianxin/sip"
	"github.com/stretchr/testify/require"
)

// RFC 2617 §3.5's example: Mufasa, testrealm@host.com, "Circle Of Life".
func TestHA1(t *testing.T) {
	m, s := HA1("Mufasa", "testrealm@host.com", "Circle Of Life")
	require.Equal(t, "939e7578ed9e3c518a452acee763bce9", m)
	require.Len(t, s, 64)
	_, err := hex.DecodeString(s)
	require.NoError(t, err)
	other, _ := HA1("Mufasa", "lianxin", "Circle Of Life")
	require.NotEqual(t, m, other, "the realm is part of the hash")
}

func TestDemoPhones(t *testing.T) {
	c, err := Default()
	require.NoError(t, err)
	phones := c.Phones()
	require.Len(t, phones, 5)
	for i, p := range phones {
		id := c.Agents[i].ID
		m, s := HA1(id, "lianxin", "demo")
		require.Equal(t, sip.Phone{User: id, Agent: id, HA1MD5: m, HA1SHA256: s}, p, "phone %s registers with password demo", id)
	}
}

func TestPhoneFromEnv(t *testing.T) {
	yaml := "sip: {realm: city.example}\nagents:\n" +
		"  - {id: '2001', name: 甲, password_hash: " + demoHash + ", skills: {general: 1}}\n" +
		"  - {id: '2002', name: 乙, password_hash: " + demoHash + ", skills: {general: 1}, phone: {user: desk-2002, ha1_md5: 00112233445566778899AABBCCDDEEFF}}\n" +
		"  - {id: '2003', name: 丙, password_hash: " + demoHash + ", skills: {general: 1}}\n"
	path := t.TempDir() + "/c.yaml"
	require.NoError(t, writeFile(path, yaml))
	c, err := Load(path, env(map[string]string{
		"LIANXIN_PHONE_2001_PASSWORD": "s3cret-pw",
		"LIANXIN_PHONE_2002_PASSWORD": "another-pw",
	}))
	require.NoError(t, err)
	m1, s1 := HA1("2001", "city.example", "s3cret-pw")
	m2, s2 := HA1("desk-2002", "city.example", "another-pw")
	require.Equal(t, []sip.Phone{
		{User: "2001", Agent: "2001", HA1MD5: m1, HA1SHA256: s1},      // given a phone by the environment
		{User: "desk-2002", Agent: "2002", HA1MD5: m2, HA1SHA256: s2}, // the environment wins over the file
	}, c.Phones(), "agent 2003 has no phone")
	require.Equal(t, "LIANXIN_PHONE_2001_PASSWORD", EnvPhonePassword("2001"))

	c, err = Load(path, nil)
	require.NoError(t, err)
	require.Equal(t, []sip.Phone{{User: "desk-2002", Agent: "2002", HA1MD5: "00112233445566778899aabbccddeeff"}}, c.Phones(),
		"hashes are given lower case")
}

func TestValidatePhones(t *testing.T) {
	md5hex := hex.EncodeToString(make([]byte, md5.Size))
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		want   []string
	}{
		{"no hash", func(c *Config) { c.Agents[0].Phone = &AgentPhone{User: "1001"} },
			[]string{"agents[0].phone: give ha1_md5 or ha1_sha256 (lianxin hash-password -phone 1001), or the password in LIANXIN_PHONE_1001_PASSWORD"}},
		{"md5 only", func(c *Config) { c.Agents[0].Phone = &AgentPhone{User: "1001", HA1MD5: md5hex} }, nil},
		{"plain password", func(c *Config) { c.Agents[1].Phone.HA1MD5 = "demo" },
			[]string{"agents[1].phone.ha1_md5: must be 32 hex digits (lianxin hash-password -phone USER), never a password"}},
		{"sha256 length", func(c *Config) { c.Agents[1].Phone.HA1SHA256 = md5hex },
			[]string{"agents[1].phone.ha1_sha256: must be 64 hex digits (lianxin hash-password -phone USER), never a password"}},
		{"not hex", func(c *Config) { c.Agents[2].Phone.HA1MD5 = "zz" + md5hex[2:] },
			[]string{"agents[2].phone.ha1_md5: must be 32 hex digits (lianxin hash-password -phone USER), never a password"}},
		{"duplicate user", func(c *Config) { c.Agents[3].Phone.User = "1002" },
			[]string{`agents[3].phone.user: duplicate phone user "1002" (also agents[1])`}},
		{"user", func(c *Config) { c.Agents[4].Phone.User = "张 1005" },
			[]string{`agents[4].phone.user: "张 1005": 1–64 letters, digits or . _ ~ -`}},
		{"no phone", func(c *Config) { c.Agents[4].Phone = nil }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Default()
			require.NoError(t, err)
			tc.change(c)
			require.Equal(t, tc.want, fieldErrors(c.Validate()))
		})
	}
}

func TestSIPEnvAndMenus(t *testing.T) {
	c, err := Load("", env(map[string]string{EnvSIPAddr: "10.0.0.5:5080", EnvSIPAdvertiseIP: "203.0.113.7"}))
	require.NoError(t, err)
	require.Equal(t, "10.0.0.5:5080", c.SIP.Addr)
	require.Equal(t, "203.0.113.7", c.SIP.AdvertiseIP)

	_, err = Load("", env(map[string]string{EnvSIPAdvertiseIP: "gateway"}))
	require.ErrorContains(t, err, `sip.advertise_ip: "gateway"`)

	for _, tc := range []struct {
		name, yaml string
		want       map[string]sip.Menu
	}{
		{"a mapping replaces the default menus", `sip: {menus: {"02860320253": {options: {"1": {queue: enterprise}}}}}`,
			map[string]sip.Menu{"02860320253": {Prompt: "menu-02860320253", Timeout: DefaultMenuTimeout, Retries: DefaultMenuRetries,
				Options: map[string]sip.MenuOption{"1": {Queue: "enterprise"}}}}},
		{"given keys stay", `sip: {menus: {"12345": {prompt: welcome-12345, timeout: 8s, retries: 0, options: {"1": {queue: general}}}}}`,
			map[string]sip.Menu{"12345": {Prompt: "welcome-12345", Timeout: 8 * time.Second, Retries: 0,
				Options: map[string]sip.MenuOption{"1": {Queue: "general"}}}}},
		{"none", "sip: {menus: {}}", map[string]sip.Menu{}},
		{"null keeps the defaults", "sip: {menus: ~}", nil},
		{"other sip keys keep the menus", "sip: {max_calls: 10}", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := decode([]byte(tc.yaml), "m.yaml") // not validated: 02860320253 has no menu prompt
			require.NoError(t, err)
			if tc.want == nil {
				def, err := Default()
				require.NoError(t, err)
				tc.want = def.SIP.Menus
			}
			require.Equal(t, tc.want, c.SIP.Menus)
		})
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }
