// Package archive keeps every event and every closed contact in PostgreSQL
// (the database of public sentiment, 社情民意数据库) and computes the
// hotline's daily, weekly and monthly reports from it.
//
// An Archiver runs on every node: the nodes form one Redis consumer group on
// the event stream, so each entry is archived by one node; rows are keyed by
// the entry's ID and the contact's tracking number, so a batch replayed after
// a crash writes nothing twice. The stream is trimmed only below what the
// group has acknowledged, and closed contacts leave Redis after a retention
// once archived; Store then answers for them (queue.ArchiveReader).
package archive

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/lianxin/lianxin/queue"
	"github.com/pressly/goose/v3"
	"go.uber.org/zap"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the archive in PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	log  *zap.Logger
	// ready is closed once the schema is migrated (at once for Open).
	ready chan struct{}
}

// Open connects to the database at url and applies the schema's migrations
// that it lacks (goose, versions in migrations/).
func Open(ctx context.Context, url string, log *zap.Logger) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("archive: database url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("archive: connect: %w", err)
	}
	s := &Store{pool: pool, log: log, ready: make(chan struct{})}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	close(s.ready)
	return s, nil
}

// OpenBackground returns the archive at once, without waiting for the
// database: a node starts while PostgreSQL is down or not reachable yet.
// It connects and migrates in the background until ctx ends, trying again
// every retry (2s if 0); Ready tells when it is done, and an Archiver
// waits for it. Until then the events wait in the Redis stream (nothing is
// trimmed) and lookups of archived contacts fail. Only a malformed url is
// an error.
func OpenBackground(ctx context.Context, url string, retry time.Duration, log *zap.Logger) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if retry <= 0 {
		retry = 2 * time.Second
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("archive: database url: %w", err)
	}
	cfg.MinConns = 0 // no connection is opened until one is needed
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("archive: connect: %w", err)
	}
	s := &Store{pool: pool, log: log, ready: make(chan struct{})}
	go func() {
		for tries := 1; ctx.Err() == nil; tries++ {
			mctx, cancel := context.WithTimeout(ctx, time.Minute)
			err := s.migrate(mctx)
			cancel()
			if err == nil {
				log.Info("archive: PostgreSQL reached; archiving", zap.Int("tries", tries))
				close(s.ready)
				return
			}
			if tries == 1 || tries%30 == 0 {
				log.Warn("archive: PostgreSQL not reachable; events wait in Redis, trying again",
					zap.Int("tries", tries), zap.Duration("every", retry), zap.Error(err))
			}
			t := time.NewTimer(retry)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}()
	return s, nil
}

// Ready is closed once the archive's schema is migrated.
func (s *Store) Ready() <-chan struct{} { return s.ready }

func (s *Store) migrate(ctx context.Context) error {
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, mustSub(migrations, "migrations"))
	if err != nil {
		return fmt.Errorf("archive: migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("archive: migrate: %w", err)
	}
	for _, r := range res {
		s.log.Info("archive schema migrated", zap.String("migration", r.Source.Path), zap.Duration("took", r.Duration))
	}
	return nil
}

// Close closes the connections.
func (s *Store) Close() { s.pool.Close() }

// Pool is the connection pool, for tests and benchmarks that look inside.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// ArchivedContact returns an archived contact (queue.ArchiveReader).
func (s *Store) ArchivedContact(ctx context.Context, tn string) (*queue.Contact, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT contact FROM contacts WHERE tracking_no = $1`, tn).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", queue.ErrNotFound, tn)
	}
	if err != nil {
		return nil, fmt.Errorf("archive: contact %s: %w", tn, err)
	}
	var c queue.Contact
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("archive: contact %s: %w", tn, err)
	}
	return &c, nil
}

// ArchivedHistory lists a citizen's archived contacts, newest first
// (queue.ArchiveReader).
func (s *Store) ArchivedHistory(ctx context.Context, historyKey string, n int) ([]queue.Summary, error) {
	if historyKey == "" {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT tracking_no, channel, coalesce(contact->>'subject', ''), outcome, queued_at
		FROM contacts WHERE history_key = $1 ORDER BY received_at DESC LIMIT $2`, historyKey, n)
	if err != nil {
		return nil, fmt.Errorf("archive: history: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (queue.Summary, error) {
		var sm queue.Summary
		var at time.Time
		err := r.Scan(&sm.TrackingNo, &sm.Channel, &sm.Subject, &sm.Outcome, &at)
		sm.State, sm.QueuedAt = queue.StateClosed, at.UTC()
		return sm, err
	})
	if err != nil {
		return nil, fmt.Errorf("archive: history: %w", err)
	}
	return out, nil
}

var _ queue.ArchiveReader = (*Store)(nil)

func mustSub(f embed.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
