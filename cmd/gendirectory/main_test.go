package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The committed CSVs are what the generator writes: run `go run
// ./cmd/gendirectory` after changing its lists.
func TestCommittedDirectoryIsGenerated(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, run(dir))
	for _, name := range []string{"hotlines.csv", "mailboxes.csv"} {
		t.Run(name, func(t *testing.T) {
			got, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			want, err := os.ReadFile(filepath.Join("..", "..", "configs", name))
			require.NoError(t, err)
			require.True(t, string(got) == string(want), "configs/%s is stale: run go run ./cmd/gendirectory", name)
		})
	}
}

func TestNumbersAreStable(t *testing.T) {
	used := map[string]bool{}
	a := number("成都市供水服务热线", used)
	require.Equal(t, a, number("成都市供水服务热线", map[string]bool{}))
	require.NotEqual(t, a, number("成都市供水服务热线", used), "a clash takes the next free number")
	require.Regexp(t, `^028[68]\d{7}$`, a)
}
