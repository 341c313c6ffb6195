// Package blobstore keeps attachments outside Redis, addressed by the
// SHA-256 of their content, so the same file stored twice is stored once and
// a stored file cannot be changed. Dir is a local folder, for one node; a
// deployment of several nodes needs one store they all reach: S3, an
// S3-compatible object store, never one node's disk.
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// ErrTooLarge is returned by Put when the content passes its limit.
var ErrTooLarge = errors.New("blobstore: content too large")

// ErrNotFound is returned by Open for an unknown hash.
var ErrNotFound = errors.New("blobstore: no such blob")

// Dir is a blob store in a local folder: root/ab/cd/abcd….
type Dir struct {
	root  string
	spool spool
}

// StaleStaged is how old a staged file must be before NewDir sweeps it: a
// request that staged it has long ended (its node died before it could
// commit or discard).
const StaleStaged = time.Hour

// NewDir returns a store in root, creating it, and sweeps staged files left
// for more than StaleStaged (see SweepStaged).
func NewDir(root string) (*Dir, error) {
	sp, err := newSpool(filepath.Join(root, "tmp"))
	if err != nil {
		return nil, err
	}
	return &Dir{root: root, spool: sp}, nil
}

// SweepStaged removes staged files (and broken Puts) older than age: the
// orphans of requests that ended without Commit or Discard. It returns how
// many it removed.
func (d *Dir) SweepStaged(age time.Duration) (int, error) { return d.spool.sweep(age) }

// Stage writes r (at most limit bytes, ErrTooLarge past that) to a staging
// file and hashes it. The caller must Commit or Discard the result.
func (d *Dir) Stage(ctx context.Context, r io.Reader, limit int64) (*Staged, error) {
	s, err := d.spool.write(ctx, r, limit, "stage-")
	if err != nil {
		return s, err
	}
	s.store = func(s *Staged) error { return d.move(s.tmp, s.SHA) }
	return s, nil
}

// move renames the spooled file tmp into the store as sha, unless the
// same content is there already.
func (d *Dir) move(tmp, sha string) error {
	dst := d.path(sha)
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return fmt.Errorf("blobstore: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("blobstore: %w", err)
	}
	return nil
}

func (d *Dir) path(sha string) string {
	return filepath.Join(d.root, sha[:2], sha[2:4], sha)
}

// Put stores r, reading at most limit bytes (ErrTooLarge past that), and
// returns its hash and size. The file is synced before Put returns.
func (d *Dir) Put(ctx context.Context, r io.Reader, limit int64) (string, int64, error) {
	s, err := d.spool.write(ctx, r, limit, "put-")
	if err != nil {
		return "", s.size(), err
	}
	defer s.Discard()
	if err := d.move(s.tmp, s.SHA); err != nil {
		return "", 0, err
	}
	return s.SHA, s.Size, nil
}

// Open returns a stored blob and its size.
func (d *Dir) Open(ctx context.Context, sha string) (io.ReadCloser, int64, error) {
	if !validSHA(sha) {
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
	if !validSHA(sha) {
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
