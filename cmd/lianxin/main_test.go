package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/lianxin/lianxin/configs"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func TestCheckConfigCommand(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"check-config", "../../testdata/config/valid.yaml"}, nil, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Contains(t, out.String(), "ok")
	require.NotContains(t, out.String(), "warning")

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("queue:\n  offer_timeout: 20s\n  max_misses: -1\nqueues:\n  - {name: general, priority: 12}\n"), 0o600))
	out.Reset()
	errb.Reset()
	code = run([]string{"check-config", bad}, nil, &out, &errb)
	require.Equal(t, 1, code)
	msg := errb.String()
	require.Contains(t, msg, bad+":5:", "names the file and the line")
	require.Contains(t, msg, "queues[0].priority")

	require.Equal(t, 2, run([]string{"check-config"}, nil, &out, &errb))
	require.Equal(t, 2, run([]string{"fly"}, nil, &out, &errb))
}

// A valid configuration that leaves citizens without replies is still ok,
// and check-config says what is missing: SMS taken in with no path to send,
// a WeChat account without app_secret (named, with its variable). With the
// secret given and no SMS, nothing is said.
func TestCheckConfigWarns(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`wechat:
  accounts:
    - {id: cd12345, name: 成都12345, kind: official, mode: plaintext, app_id: wx0123456789abcdef, queue: general}
    - {id: cd-two, name: 成都12345二, kind: official, mode: plaintext, app_id: wx0123456789abcdee, queue: general}
sms:
  aliyun: {enabled: true}
`), 0o600))
	t.Setenv("LIANXIN_WECHAT_CD12345_TOKEN", "token-one")
	t.Setenv("LIANXIN_WECHAT_CD_TWO_TOKEN", "token-two")
	t.Setenv("LIANXIN_WECHAT_CD_TWO_APP_SECRET", "secret-two")
	t.Setenv("LIANXIN_SMS_ALIYUN_TOKEN", "aliyun-token")
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"check-config", cfg}, nil, &out, &errb), errb.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3, out.String())
	require.Contains(t, lines[0], cfg+": warning: sms: SMS comes in but no path can send it")
	require.Contains(t, lines[1], cfg+": warning: wechat.accounts[0].app_secret (env LIANXIN_WECHAT_CD12345_APP_SECRET): account cd12345 without app_secret")
	require.Equal(t, cfg+": ok", lines[2])

	t.Setenv("LIANXIN_WECHAT_CD12345_APP_SECRET", "secret-one")
	require.NoError(t, os.WriteFile(cfg, []byte(strings.Replace(mustRead(t, cfg), "aliyun: {enabled: true}", "aliyun: {enabled: false}", 1)), 0o600))
	out.Reset()
	require.Equal(t, 0, run([]string{"check-config", cfg}, nil, &out, &errb), errb.String())
	require.Equal(t, cfg+": ok\n", out.String())
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestHashPasswordCommand(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"hash-password"}, strings.NewReader("correct horse battery\n"), &out, &errb))
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(strings.TrimSpace(out.String())), []byte("correct horse battery")))
	require.Equal(t, 1, run([]string{"hash-password"}, strings.NewReader("short\n"), &out, &errb))
	require.Equal(t, 2, run([]string{"hash-password", "extra"}, strings.NewReader("correct horse battery\n"), &out, &errb))
}

// The phone's hashes, printed as YAML, are what the registrar checks: they
// parse as agents[].phone and give the phone user the HA1 of its password
// in the configuration's realm.
func TestHashPasswordPhone(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("sip: {realm: 12345.chengdu.example}\n"), 0o644))
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"hash-password", "-phone", "2001", "-config", cfg}, strings.NewReader("phone pass 1\n"), &out, &errb), errb.String())
	require.NotContains(t, out.String(), "phone pass 1")

	var agent struct {
		Phone configs.AgentPhone `yaml:"phone"`
	}
	require.NoError(t, yaml.Unmarshal(out.Bytes(), &agent), out.String())
	md5Hex, sha256Hex := configs.HA1("2001", "12345.chengdu.example", "phone pass 1")
	require.Equal(t, configs.AgentPhone{User: "2001", HA1MD5: md5Hex, HA1SHA256: sha256Hex}, agent.Phone)

	out.Reset()
	require.Equal(t, 0, run([]string{"hash-password", "-phone", "1001", "-config", ""}, strings.NewReader("demo-demo\n"), &out, &errb))
	md5Hex, _ = configs.HA1("1001", "lianxin", "demo-demo")
	require.Contains(t, out.String(), "ha1_md5: "+md5Hex, "the embedded realm")

	require.Equal(t, 1, run([]string{"hash-password", "-phone", "2001", "-config", filepath.Join(dir, "none.yaml")},
		strings.NewReader("phone pass 1\n"), &out, &errb))
	require.Contains(t, errb.String(), "no such file")
}
