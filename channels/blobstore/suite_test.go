package blobstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/channels/blobstore/s3test"
	"github.com/stretchr/testify/require"
)

// backend is one store under test: the store, its spool folder, and what
// it holds as stored (not staged) blobs, read from the backend itself.
type backend struct {
	store  blobstore.Store
	spool  string
	stored func() int
}

// backends are every Store implementation, each on a fresh store. The same
// suite runs against each (TestStore/dir, TestStore/s3, …).
var backends = map[string]func(t *testing.T) backend{
	"dir": func(t *testing.T) backend {
		root := t.TempDir()
		d, err := blobstore.NewDir(root)
		require.NoError(t, err)
		return backend{store: d, spool: filepath.Join(root, "tmp"), stored: func() int {
			n := 0
			require.NoError(t, filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
				if err == nil && !e.IsDir() && !strings.HasPrefix(p, filepath.Join(root, "tmp")+string(filepath.Separator)) {
					n++
				}
				return err
			}))
			return n
		}}
	},
	"s3": func(t *testing.T) backend {
		srv := s3test.Start(t, "attachments")
		spool := t.TempDir()
		s, err := blobstore.NewS3(context.Background(), srv.Options(spool))
		require.NoError(t, err)
		return backend{store: s, spool: spool, stored: func() int { return len(srv.Keys(t)) }}
	},
}

func TestStore(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			t.Run("put and open", func(t *testing.T) { testPutOpen(t, open(t)) })
			t.Run("stage", func(t *testing.T) { testStage(t, open(t)) })
			t.Run("large", func(t *testing.T) { testLarge(t, open(t)) })
			t.Run("concurrent", func(t *testing.T) { testConcurrent(t, open(t)) })
			t.Run("cancelled", func(t *testing.T) { testCancelled(t, open(t)) })
		})
	}
}

func spooled(t *testing.T, b backend) int {
	ents, err := os.ReadDir(b.spool)
	require.NoError(t, err)
	return len(ents)
}

func read(t *testing.T, s blobstore.Store, sha string) ([]byte, int64) {
	t.Helper()
	rc, size, err := s.Open(context.Background(), sha)
	require.NoError(t, err)
	defer rc.Close()
	got, err := io.ReadAll(rc)
	require.NoError(t, err)
	return got, size
}

func testPutOpen(t *testing.T, b backend) {
	ctx := context.Background()
	content := "现场照片的字节"
	sum := sha256.Sum256([]byte(content))
	sha, n, err := b.store.Put(ctx, strings.NewReader(content), 100)
	require.NoError(t, err)
	require.Equal(t, hex.EncodeToString(sum[:]), sha)
	require.EqualValues(t, len(content), n)

	again, _, err := b.store.Put(ctx, strings.NewReader(content), 100)
	require.NoError(t, err)
	require.Equal(t, sha, again, "the same content is stored once")
	require.Equal(t, 1, b.stored())

	got, size := read(t, b.store, sha)
	require.Equal(t, content, string(got))
	require.EqualValues(t, len(content), size)

	// Exactly at the limit is fine; one byte over is not, and leaves nothing.
	_, _, err = b.store.Put(ctx, strings.NewReader(strings.Repeat("x", 100)), 100)
	require.NoError(t, err)
	_, _, err = b.store.Put(ctx, strings.NewReader(strings.Repeat("y", 101)), 100)
	require.ErrorIs(t, err, blobstore.ErrTooLarge)
	require.Equal(t, 2, b.stored())
	require.Zero(t, spooled(t, b), "Put leaves nothing in the spool")

	// An empty blob is a blob.
	sha0, n0, err := b.store.Put(ctx, strings.NewReader(""), 100)
	require.NoError(t, err)
	require.Zero(t, n0)
	got, size = read(t, b.store, sha0)
	require.Empty(t, got)
	require.Zero(t, size)

	unknown := sha256.Sum256([]byte("never stored"))
	for _, bad := range []string{"", "../../etc/passwd", strings.Repeat("g", 64), strings.ToUpper(sha),
		hex.EncodeToString(unknown[:]), sha + "/../" + sha} {
		_, _, err = b.store.Open(ctx, bad)
		require.ErrorIs(t, err, blobstore.ErrNotFound, bad)
	}
}

// testStage: staged content is in the store only after Commit; Discard and
// a failed Stage leave nothing; a stale staged file is swept.
func testStage(t *testing.T, b backend) {
	ctx := context.Background()
	s, err := b.store.Stage(ctx, strings.NewReader("hello"), 100)
	require.NoError(t, err)
	require.Equal(t, int64(5), s.Size)
	_, _, err = b.store.Open(ctx, s.SHA)
	require.ErrorIs(t, err, blobstore.ErrNotFound, "not stored before Commit")
	require.Zero(t, b.stored())
	require.Equal(t, 1, spooled(t, b))
	require.NoError(t, s.Commit())
	got, n := read(t, b.store, s.SHA)
	require.Equal(t, "hello", string(got))
	require.Equal(t, int64(5), n)
	require.Zero(t, spooled(t, b))
	require.NoError(t, s.Commit(), "a second Commit does nothing")
	s.Discard() // after Commit: the stored blob stays
	_, _, err = b.store.Open(ctx, s.SHA)
	require.NoError(t, err)

	// The same content staged again and committed: still one blob.
	s1, err := b.store.Stage(ctx, strings.NewReader("hello"), 100)
	require.NoError(t, err)
	require.NoError(t, s1.Commit())
	require.Equal(t, 1, b.stored())
	require.Zero(t, spooled(t, b))

	s2, err := b.store.Stage(ctx, strings.NewReader("refused"), 100)
	require.NoError(t, err)
	s2.Discard()
	require.NoError(t, s2.Commit(), "Commit after Discard does nothing")
	_, _, err = b.store.Open(ctx, s2.SHA)
	require.ErrorIs(t, err, blobstore.ErrNotFound)
	require.Zero(t, spooled(t, b))

	_, err = b.store.Stage(ctx, strings.NewReader(strings.Repeat("x", 101)), 100)
	require.ErrorIs(t, err, blobstore.ErrTooLarge)
	require.Zero(t, spooled(t, b), "a refused Stage leaves nothing")

	// An orphan (its node died before Commit or Discard) is swept once stale.
	_, err = b.store.Stage(ctx, strings.NewReader("orphan"), 100)
	require.NoError(t, err)
	swept, err := b.store.SweepStaged(time.Hour)
	require.NoError(t, err)
	require.Zero(t, swept, "a fresh staged file is some request's")
	swept, err = b.store.SweepStaged(0)
	require.NoError(t, err)
	require.Equal(t, 1, swept)
	require.Zero(t, spooled(t, b))
	require.Equal(t, 1, b.stored(), "the committed blob stays, the orphan never reached the store")
}

// testLarge: a 40 MiB blob (several multipart parts on S3) reads back byte
// for byte, and its hash is the content's.
func testLarge(t *testing.T, b backend) {
	ctx := context.Background()
	data := make([]byte, 40<<20+12345)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	sum := sha256.Sum256(data)
	s, err := b.store.Stage(ctx, bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	require.NoError(t, s.Commit())
	require.Equal(t, hex.EncodeToString(sum[:]), s.SHA)
	rc, size, err := b.store.Open(ctx, s.SHA)
	require.NoError(t, err)
	h := sha256.New()
	n, err := io.Copy(h, rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.EqualValues(t, len(data), size)
	require.EqualValues(t, len(data), n)
	require.Equal(t, s.SHA, hex.EncodeToString(h.Sum(nil)), "the content read back is the content stored")
}

// testConcurrent: many Puts at once, half of them the same content, give
// one blob per distinct content, each intact.
func testConcurrent(t *testing.T, b backend) {
	ctx := context.Background()
	var wg sync.WaitGroup
	shas := make([]string, 16)
	for i := range shas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			content := "同一张照片"
			if i%2 == 1 {
				content = strings.Repeat("第", i) + "张照片"
			}
			sha, _, err := b.store.Put(ctx, strings.NewReader(content), 1000)
			if err == nil {
				shas[i] = sha
			}
		}()
	}
	wg.Wait()
	for i, sha := range shas {
		require.NotEmpty(t, sha, "put %d failed", i)
		got, _ := read(t, b.store, sha)
		sum := sha256.Sum256(got)
		require.Equal(t, sha, hex.EncodeToString(sum[:]))
	}
	require.Equal(t, 9, b.stored())
	require.Zero(t, spooled(t, b))
}

// testCancelled: a Put whose request is cancelled mid-read stores nothing.
func testCancelled(t *testing.T, b backend) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte("the first half of a photo"))
		cancel()
		_, _ = pw.Write([]byte("the rest"))
		pw.Close()
	}()
	_, _, err := b.store.Put(ctx, pr, 1000)
	pr.Close() // the writer's second Write returns
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, b.stored())
	require.Zero(t, spooled(t, b))
}
