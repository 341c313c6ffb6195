package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Store is what every backend offers: Dir (a local folder, one node) and S3
// (an S3-compatible object store every node reaches). Both pass the same
// test suite (suite_test.go).
type Store interface {
	// Put stores r (at most limit bytes, ErrTooLarge past that) and returns
	// its hash and size; the content is durable when Put returns.
	Put(ctx context.Context, r io.Reader, limit int64) (sha string, size int64, err error)
	// Stage reads and hashes r without storing it: the caller Commits or
	// Discards the result.
	Stage(ctx context.Context, r io.Reader, limit int64) (*Staged, error)
	// Open returns a stored blob and its size, ErrNotFound for an unknown
	// or malformed hash.
	Open(ctx context.Context, sha string) (io.ReadCloser, int64, error)
	// SweepStaged removes staged content older than age, left by requests
	// that ended without Commit or Discard, and says how many it removed.
	SweepStaged(age time.Duration) (int, error)
	// Delete removes a stored blob (a recording past its retention);
	// deleting one that is not there is no error.
	Delete(ctx context.Context, sha string) error
}

var (
	_ Store = (*Dir)(nil)
	_ Store = (*S3)(nil)
)

// Staged is content written and hashed but not yet in the store: Commit
// stores it under its hash, Discard drops it. A letter stages its
// attachments while it is read, and commits them only once it is accepted,
// so a refused letter leaves nothing behind.
type Staged struct {
	SHA  string
	Size int64
	// tmp is the spooled file; store moves it into the backend.
	tmp   string
	store func(*Staged) error
}

// Commit stores the staged content under its hash (once: the same content
// already stored stays as it is). Commit after Commit or Discard does
// nothing. A failed Commit may be retried.
func (s *Staged) Commit() error {
	if s == nil || s.tmp == "" || s.store == nil {
		return nil
	}
	if err := s.store(s); err != nil {
		return err
	}
	s.Discard()
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

func (s *Staged) size() int64 {
	if s == nil {
		return 0
	}
	return s.Size
}

// spool is a local folder where content is written and hashed before it
// goes into a store: a Dir renames it in, S3 uploads it from there. Content
// streams through it; none is held in memory whole.
type spool struct{ dir string }

// newSpool makes dir and sweeps what is older than StaleStaged in it.
func newSpool(dir string) (spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return spool{}, fmt.Errorf("blobstore: %w", err)
	}
	sp := spool{dir: dir}
	if _, err := sp.sweep(StaleStaged); err != nil {
		return spool{}, err
	}
	return sp, nil
}

// write copies r (at most limit bytes) to a synced file named prefix*, and
// hashes it. Past the limit it returns a Staged holding only the size read
// and ErrTooLarge; on any error no file is left.
func (sp spool) write(ctx context.Context, r io.Reader, limit int64, prefix string) (*Staged, error) {
	tmp, err := os.CreateTemp(sp.dir, prefix+"*")
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
	return &Staged{SHA: hex.EncodeToString(h.Sum(nil)), Size: n, tmp: tmp.Name()}, nil
}

// sweep removes spooled files (staged, or left by a Put that died) older
// than age.
func (sp spool) sweep(age time.Duration) (int, error) {
	ents, err := os.ReadDir(sp.dir)
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
		if os.Remove(filepath.Join(sp.dir, e.Name())) == nil {
			n++
		}
	}
	return n, nil
}

// validSHA reports whether sha is a hex SHA-256: anything else names no blob
// (and never reaches a path or an object key).
func validSHA(sha string) bool {
	if len(sha) != 64 {
		return false
	}
	_, err := hex.DecodeString(sha)
	return err == nil && strings.ToLower(sha) == sha
}
