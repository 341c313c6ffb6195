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
