package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lianxin/lianxin/archive/pgtest"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// Kill -9 the archiving node in the middle of a batch (entries delivered to
// it and not yet acknowledged), several times while contacts pour in: after
// it restarts, every event is in PostgreSQL exactly once, and all along the
// stream was never trimmed past what was archived.
func TestKillArchivingNode(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	pg := pgtest.Start(t)
	cfg := filepath.Join(t.TempDir(), "lianxin.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("queue:\n  node_ttl: 2s\n  heartbeat: 500ms\n"+
		"database:\n  url: %q\n  keep_events: 1s\n  batch: 100\n", pg.URL)), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rdb := s.Client(t)
	db, err := pgxpool.New(ctx, pg.URL)
	require.NoError(t, err)
	defer db.Close()

	a := startProc(t, s.URL, "node-a", cfg)

	// Contacts pour in through another queue handle on the same Redis.
	const total = 8000
	q, err := queue.New(rdb, queue.Options{NodeID: "load", Queues: []queue.Def{{Name: "general"}}, EventsMaxLen: -1})
	require.NoError(t, err)
	var tns sync.Map
	loaded := make(chan error, 1)
	go func() {
		for i := range total {
			r, err := q.Enqueue(ctx, queue.Intake{Channel: queue.ChannelWeb, Line: "web", Queue: "general",
				Text: "测试", Citizen: queue.Citizen{Address: fmt.Sprintf("u%d", i)}}, "")
			if err != nil {
				loaded <- err
				return
			}
			tns.Store(r.TrackingNo, true)
		}
		loaded <- nil
	}()

	// Watch the stream: every entry seen, and after each look at where the
	// stream now starts, every entry seen below that must be archived.
	var mu sync.Mutex
	seen := map[string]bool{}
	var violations []string
	watch := func() {
		res, err := rdb.XRange(ctx, "{lianxin}:events", "-", "+").Result()
		if err != nil || len(res) == 0 {
			return
		}
		first := res[0].ID
		mu.Lock()
		var below []string
		for _, m := range res {
			seen[m.ID] = true
		}
		for id := range seen {
			if streamLess(id, first) {
				below = append(below, id)
			}
		}
		mu.Unlock()
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM events WHERE id = ANY($1)`, below).Scan(&n); err == nil && n != len(below) {
			mu.Lock()
			violations = append(violations, fmt.Sprintf("stream starts at %s but %d entries below it are not archived", first, len(below)-n))
			mu.Unlock()
		}
	}
	watchDone := make(chan struct{})
	stopWatch := make(chan struct{})
	go func() {
		defer close(watchDone)
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(20 * time.Millisecond):
				watch()
			}
		}
	}()

	count := func() int {
		var n int
		require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n))
		return n
	}
	// The node's archive workers are consumers node-a/1, node-a/2, …
	pendingOf := func(node string) int64 {
		p, err := rdb.XPending(ctx, "{lianxin}:events", "archive").Result()
		if err != nil {
			return 0
		}
		var n int64
		for c, k := range p.Consumers {
			if strings.HasPrefix(c, node+"/") {
				n += k
			}
		}
		return n
	}
	midBatch := 0
	for kill := 0; kill < 3; kill++ {
		// Kill when the node holds a batch it has not acknowledged.
		for count() < (kill+1)*1000 {
			time.Sleep(5 * time.Millisecond)
		}
		for pendingOf("node-a") == 0 {
			time.Sleep(time.Millisecond)
		}
		require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL))
		<-a.done
		require.Contains(t, a.out.String(), "archive on")
		if p := pendingOf("node-a"); p > 0 {
			midBatch++
			t.Logf("kill %d: node-a died holding %d unacknowledged entries; %d events archived", kill+1, p, count())
		}
		a = startProc(t, s.URL, "node-a", cfg)
	}
	require.Positive(t, midBatch, "at least one kill hit a batch in flight")
	require.NoError(t, <-loaded)
	// Every entry the stream ever showed (the load's and the node's own) is
	// in PostgreSQL; the events table is keyed by stream id, so none twice.
	archivedAll := func() bool {
		if pendingOf("node-a") != 0 || count() < total {
			return false
		}
		res, err := rdb.XRange(ctx, "{lianxin}:events", "-", "+").Result()
		if err != nil {
			return false
		}
		mu.Lock()
		ids := make([]string, 0, len(seen)+len(res))
		for id := range seen {
			ids = append(ids, id)
		}
		mu.Unlock()
		for _, m := range res {
			ids = append(ids, m.ID)
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		var n int
		return db.QueryRow(ctx, `SELECT count(*) FROM events WHERE id = ANY($1)`, ids).Scan(&n) == nil && n == len(ids)
	}
	require.Eventually(t, archivedAll, 3*time.Minute, 100*time.Millisecond,
		"every event archived after the restarts")
	t.Logf("%d events archived for %d contacts", count(), total)
	close(stopWatch)
	<-watchDone
	watch()
	require.Empty(t, violations)

	// Exactly once: one row per event, one queued event per contact made.
	var rows, contacts, dup int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*), count(DISTINCT contact) FROM events WHERE type = 'queued'`).
		Scan(&rows, &contacts))
	require.Equal(t, total, rows)
	require.Equal(t, total, contacts)
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM (SELECT contact FROM events WHERE type = 'queued' GROUP BY contact HAVING count(*) > 1) d`).Scan(&dup))
	require.Zero(t, dup)
	made := 0
	tns.Range(func(k, _ any) bool {
		made++
		return true
	})
	require.Equal(t, total, made)
	// The stream ends up trimmed below what is archived.
	require.Eventually(t, func() bool { return rdb.XLen(ctx, "{lianxin}:events").Val() < total/10 }, time.Minute, 100*time.Millisecond)
}

func streamLess(a, b string) bool {
	var am, as, bm, bs uint64
	fmt.Sscanf(a, "%d-%d", &am, &as)
	fmt.Sscanf(b, "%d-%d", &bm, &bs)
	return am < bm || (am == bm && as < bs)
}
