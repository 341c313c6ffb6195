package blobstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/stretchr/testify/require"
)

func TestDir(t *testing.T) {
	ctx := context.Background()
	d, err := blobstore.NewDir(t.TempDir())
	require.NoError(t, err)
	content := "现场照片的字节"
	sum := sha256.Sum256([]byte(content))
	sha, n, err := d.Put(ctx, strings.NewReader(content), 100)
	require.NoError(t, err)
	require.Equal(t, hex.EncodeToString(sum[:]), sha)
	require.EqualValues(t, len(content), n)

	again, _, err := d.Put(ctx, strings.NewReader(content), 100)
	require.NoError(t, err)
	require.Equal(t, sha, again, "the same content is stored once")

	rc, size, err := d.Open(ctx, sha)
	require.NoError(t, err)
	got, _ := io.ReadAll(rc)
	require.NoError(t, rc.Close())
	require.Equal(t, content, string(got))
	require.EqualValues(t, len(content), size)

	_, _, err = d.Put(ctx, strings.NewReader(strings.Repeat("x", 101)), 100)
	require.ErrorIs(t, err, blobstore.ErrTooLarge)
	for _, bad := range []string{"", "../../etc/passwd", strings.Repeat("g", 64), strings.Repeat("a", 64)} {
		_, _, err = d.Open(ctx, bad)
		require.ErrorIs(t, err, blobstore.ErrNotFound, bad)
	}
}

// TestStage: staged content is in the store only after Commit; Discard and
// a failed Stage leave nothing; a stale staged file is swept.
func TestStage(t *testing.T) {
	root := t.TempDir()
	d, err := blobstore.NewDir(root)
	require.NoError(t, err)
	ctx := context.Background()
	count := func(sub string) int {
		n := 0
		require.NoError(t, filepath.WalkDir(filepath.Join(root, sub), func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if sub != "" || !strings.HasPrefix(rel, "tmp"+string(filepath.Separator)) {
				n++
			}
			return nil
		}))
		return n
	}

	s, err := d.Stage(ctx, strings.NewReader("hello"), 100)
	require.NoError(t, err)
	require.Equal(t, int64(5), s.Size)
	_, _, err = d.Open(ctx, s.SHA)
	require.ErrorIs(t, err, blobstore.ErrNotFound, "not stored before Commit")
	require.Equal(t, 1, count("tmp"))
	require.NoError(t, s.Commit())
	rc, n, err := d.Open(ctx, s.SHA)
	require.NoError(t, err)
	rc.Close()
	require.Equal(t, int64(5), n)
	require.Equal(t, 0, count("tmp"))
	require.NoError(t, s.Commit(), "a second Commit does nothing")
	s.Discard() // after Commit: the stored file stays
	_, _, err = d.Open(ctx, s.SHA)
	require.NoError(t, err)

	s2, err := d.Stage(ctx, strings.NewReader("refused"), 100)
	require.NoError(t, err)
	s2.Discard()
	_, _, err = d.Open(ctx, s2.SHA)
	require.ErrorIs(t, err, blobstore.ErrNotFound)
	require.Equal(t, 0, count("tmp"))

	_, err = d.Stage(ctx, strings.NewReader(strings.Repeat("x", 101)), 100)
	require.ErrorIs(t, err, blobstore.ErrTooLarge)
	require.Equal(t, 0, count("tmp"), "a refused Stage leaves nothing")

	// An orphan (its node died before Commit or Discard) is swept once stale.
	_, err = d.Stage(ctx, strings.NewReader("orphan"), 100)
	require.NoError(t, err)
	swept, err := d.SweepStaged(time.Hour)
	require.NoError(t, err)
	require.Zero(t, swept, "a fresh staged file is some request's")
	swept, err = d.SweepStaged(0)
	require.NoError(t, err)
	require.Equal(t, 1, swept)
	require.Equal(t, 0, count("tmp"))
	require.Equal(t, 1, count(""), "the committed file stays")
}
