package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// readAll reads group's new entries for consumer c and acknowledges them.
func readAll(t *testing.T, q *queue.Queue, group string) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	for {
		batch, err := q.ReadGroup(ctx, group, "c1", 500, -1, false)
		require.NoError(t, err)
		if len(batch) == 0 {
			return n
		}
		ids := make([]string, len(batch))
		for i, e := range batch {
			ids[i] = e.ID
		}
		require.NoError(t, q.Ack(ctx, group, ids...))
		n += len(batch)
	}
}

// A consumer group that stops reading holds the event stream back for
// MaxEventLag, no longer: then the stream is trimmed past it, and the
// entries it lost are counted (and logged). A group in KeepGroups (the
// archive's) holds it however far behind it is.
func TestTidyTrimsPastAStalledGroup(t *testing.T) {
	s := queuetest.RedisServer(t)
	rdb := s.Client(t)
	ctx := context.Background()
	q, err := queue.New(rdb, queue.Options{NodeID: "node-a", Queues: testQueues, Retention: -1, KeepEvents: time.Second,
		MaxEventLag: 3 * time.Second, KeepGroups: []string{"archive"}})
	require.NoError(t, err)
	require.NoError(t, q.JoinGroup(ctx, "archive"))
	require.NoError(t, q.JoinGroup(ctx, "stalled"))
	enqueueMany(t, q, "general", 1000, 0)
	read, err := q.ReadGroup(ctx, "stalled", "c1", 100, -1, false)
	require.NoError(t, err)
	require.Len(t, read, 100)
	for _, e := range read[:50] {
		require.NoError(t, q.Ack(ctx, "stalled", e.ID)) // 50 more read, not acknowledged
	}

	// Past KeepEvents, within MaxEventLag: both groups hold the stream.
	time.Sleep(1200 * time.Millisecond)
	tr, err := q.Tidy(ctx)
	require.NoError(t, err)
	require.Zero(t, tr.Trimmed, "the archive has read nothing")
	require.Equal(t, 1000, readAll(t, q, "archive"))
	tr, err = q.Tidy(ctx)
	require.NoError(t, err)
	require.Empty(t, tr.Dropped)
	n, err := q.StreamLen(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, int64(950), "the stalled group holds what it has not acknowledged")

	// Past MaxEventLag: the stalled group holds nothing older any more.
	time.Sleep(2 * time.Second)
	tr, err = q.Tidy(ctx)
	require.NoError(t, err)
	t.Logf("trimmed %d, dropped %v", tr.Trimmed, tr.Dropped)
	require.GreaterOrEqual(t, tr.Trimmed, int64(900))
	// An approximate trim goes by whole nodes of the stream (100 entries).
	require.InDelta(t, 950, tr.Dropped["stalled"], 100)
	require.NotContains(t, tr.Dropped, "archive")
	dropped, err := q.DroppedEvents(ctx)
	require.NoError(t, err)
	require.Equal(t, tr.Dropped, dropped)
	// It reads on from what is left (the new entries, and the last node of
	// the old ones, which an approximate trim leaves).
	enqueueMany(t, q, "general", 10, 5000)
	require.InDelta(t, 10+1000-tr.Trimmed, readAll(t, q, "stalled"), 0)

	// The archive's group stalls: it holds the stream however long.
	enqueueMany(t, q, "general", 500, 6000)
	time.Sleep(3200 * time.Millisecond)
	tr, err = q.Tidy(ctx)
	require.NoError(t, err)
	require.Empty(t, tr.Dropped)
	n, err = q.StreamLen(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, int64(510), "the archive's entries stay until it read them")
	require.Equal(t, 510, readAll(t, q, "archive"))
}
