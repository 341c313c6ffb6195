package blobstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"

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
