package archive_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/archive"
	"github.com/lianxin/lianxin/archive/pgtest"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// clock is the queue's clock in tests: contacts get known times.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testQueues = []queue.Def{{Name: "general"}, {Name: "consumer", Priority: 1}, {Name: "enterprise", Priority: 5}}

type env struct {
	t     testing.TB
	ctx   context.Context
	clock *clock
	redis *queuetest.Server
	rdb   *redis.Client
	pg    *pgtest.Server
	store *archive.Store
	q     *queue.Queue
}

// newEnv starts a redis-server and a PostgreSQL of the test's own, opens the
// archive (migrating it) and a queue whose stream the archiver trims.
func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, ctx: t.Context(), clock: &clock{t: time.Date(2026, 11, 29, 16, 0, 0, 0, time.UTC)}}
	e.redis = queuetest.RedisServer(t)
	e.rdb = e.redis.Client(t)
	e.pg = pgtest.Start(t)
	s, err := archive.Open(e.ctx, e.pg.URL, nil)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	e.store = s
	e.q = e.queue("node-a")
	return e
}

func (e *env) queue(node string) *queue.Queue {
	q, err := queue.New(e.rdb, queue.Options{NodeID: node, Queues: testQueues, EventsMaxLen: -1, Now: e.clock.Now,
		OfferTimeout: time.Hour, RingTimeout: time.Hour, Archive: e.store})
	require.NoError(e.t, err)
	return q
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.store.Pool().QueryRow(e.ctx, sql, args...).Scan(&n))
	return n
}

// streamIDs lists every entry now in the event stream.
func (e *env) streamIDs() []string {
	e.t.Helper()
	ms, err := e.rdb.XRange(e.ctx, "{lianxin}:events", "-", "+").Result()
	require.NoError(e.t, err)
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}
