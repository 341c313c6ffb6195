package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestReadmeTryIt runs the README's "Try it" commands, as written (only
// localhost:8080 becomes the test node's address), from the repository's
// root: the mailbox, the file and the tracking number they use exist, and
// each step answers as the README says.
func TestReadmeTryIt(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "\n## Try it\n")
	require.True(t, ok, "README has a Try it section")
	_, rest, ok = strings.Cut(rest, "```sh\n")
	require.True(t, ok)
	script, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	require.NotRegexp(t, `\.\./|/work/`, string(readme), "the README points at nothing outside the repository")

	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a")
	host := strings.TrimPrefix(n.base, "http://")
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", strings.ReplaceAll(script, "localhost:8080", host))
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("README try-it output:\n%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 3, "a number, the status, the multipart answer: %s", out)
	tn := strings.TrimSpace(lines[0])
	require.True(t, queue.ValidTrackingNo(tn), "the tracking number: %q", tn)
	require.Contains(t, lines[1], `"tracking_no":"`+tn+`"`, "the public lookup with the phone's last four digits")
	require.Regexp(t, regexp.MustCompile(`"tracking_no":"\d+"`), lines[2], "the multipart letter with its attachment")
}
