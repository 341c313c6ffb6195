package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"hash-password"}, strings.NewReader("correct horse battery\n"), &out, &errb))
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(strings.TrimSpace(out.String())), []byte("correct horse battery")))
	require.Equal(t, 1, run([]string{"hash-password"}, strings.NewReader("short\n"), &out, &errb))
}
