// Package blobstore keeps attachments outside Redis, addressed by the
// SHA-256 of their content, so the same file stored twice is stored once and
// a stored file cannot be changed. Dir is a local folder, for one node; a
// deployment of several nodes needs one store they all reach (an
// S3-compatible object store), never one node's disk.
package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrTooLarge is returned by Put when the content passes its limit.
var ErrTooLarge = errors.New("blobstore: content too large")

// ErrNotFound is returned by Open for an unknown hash.
var ErrNotFound = errors.New("blobstore: no such blob")

// Dir is a blob store in a local folder: root/ab/cd/abcd….
type Dir struct{ root string }

// NewDir returns a store in root, creating it.
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o750); err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	return &Dir{root: root}, nil
}

func (d *Dir) path(sha string) string {
	return filepath.Join(d.root, sha[:2], sha[2:4], sha)
}

// Put stores r, reading at most limit bytes (ErrTooLarge past that), and
// returns its hash and size. The file is synced before Put returns.
func (d *Dir) Put(ctx context.Context, r io.Reader, limit int64) (string, int64, error) {
	tmp, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "put-*")
	if err != nil {
		return "", 0, fmt.Errorf("blobstore: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(ctxReader{ctx, r}, limit+1))
	if err != nil {
		return "", 0, err
	}
	if n > limit {
		return "", n, ErrTooLarge
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("blobstore: %w", err)
	}
	sha := hex.EncodeToString(h.Sum(nil))
	dst := d.path(sha)
	if _, err := os.Stat(dst); err == nil {
		return sha, n, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return "", 0, fmt.Errorf("blobstore: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", 0, fmt.Errorf("blobstore: %w", err)
	}
	return sha, n, nil
}

// Open returns a stored blob and its size.
func (d *Dir) Open(ctx context.Context, sha string) (io.ReadCloser, int64, error) {
	if len(sha) != 64 {
		return nil, 0, ErrNotFound
	}
	if _, err := hex.DecodeString(sha); err != nil {
		return nil, 0, ErrNotFound
	}
	f, err := os.Open(d.path(sha))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
