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
	"strings"
	"time"
)

// ErrTooLarge is returned by Put when the content passes its limit.
var ErrTooLarge = errors.New("blobstore: content too large")

// ErrNotFound is returned by Open for an unknown hash.
var ErrNotFound = errors.New("blobstore: no such blob")

// Dir is a blob store in a local folder: root/ab/cd/abcd….
type Dir struct{ root string }

// StaleStaged is how old a staged file must be before NewDir sweeps it: a
// request that staged it has long ended (its node died before it could
// commit or discard).
const StaleStaged = time.Hour

// NewDir returns a store in root, creating it, and sweeps staged files left
// for more than StaleStaged (see SweepStaged).
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o750); err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	d := &Dir{root: root}
	if _, err := d.SweepStaged(StaleStaged); err != nil {
		return nil, err
	}
	return d, nil
}

// SweepStaged removes staged files (and broken Puts) older than age: the
// orphans of requests that ended without Commit or Discard. It returns how
// many it removed.
func (d *Dir) SweepStaged(age time.Duration) (int, error) {
	dir := filepath.Join(d.root, "tmp")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("blobstore: sweep: %w", err)
	}
	n := 0
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "put-") && !strings.HasPrefix(e.Name(), "stage-") {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < age {
			continue
		}
		if os.Remove(filepath.Join(dir, e.Name())) == nil {
			n++
		}
	}
	return n, nil
}

// Staged is content written and hashed but not yet in the store: Commit
// stores it under its hash, Discard drops it. A letter stages its
// attachments while it is read, and commits them only once it is accepted,
// so a refused letter leaves nothing behind.
type Staged struct {
	SHA  string
	Size int64
	d    *Dir
	tmp  string
}

// Stage writes r (at most limit bytes, ErrTooLarge past that) to a staging
// file and hashes it. The caller must Commit or Discard the result.
func (d *Dir) Stage(ctx context.Context, r io.Reader, limit int64) (*Staged, error) {
	tmp, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "stage-*")
	if err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(ctxReader{ctx, r}, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return &Staged{Size: n}, ErrTooLarge
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	ok = true
	return &Staged{SHA: hex.EncodeToString(h.Sum(nil)), Size: n, d: d, tmp: tmp.Name()}, nil
}

// Commit stores the staged content under its hash (once: the same content
// already stored stays as it is). Commit after Commit or Discard does nothing.
func (s *Staged) Commit() error {
	if s == nil || s.tmp == "" {
		return nil
	}
	defer s.Discard()
	dst := s.d.path(s.SHA)
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return fmt.Errorf("blobstore: %w", err)
	}
	if err := os.Rename(s.tmp, dst); err != nil {
		return fmt.Errorf("blobstore: %w", err)
	}
	s.tmp = ""
	return nil
}

// Discard drops the staged content. Discard after Commit does nothing.
func (s *Staged) Discard() {
	if s == nil || s.tmp == "" {
		return
	}
	_ = os.Remove(s.tmp)
	s.tmp = ""
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

// Delete removes a stored blob (a recording past its retention). Deleting
// one that is not there is no error.
func (d *Dir) Delete(ctx context.Context, sha string) error {
	if len(sha) != 64 {
		return ErrNotFound
	}
	if _, err := hex.DecodeString(sha); err != nil {
		return ErrNotFound
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Remove(d.path(sha)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("blobstore: %w", err)
	}
	return nil
}
