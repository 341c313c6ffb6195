package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// The node's client has the configured pool (redis.pool_size, 100 by
// default), unless its URL names one.
func TestNodePoolSize(t *testing.T) {
	def, err := configs.Default()
	require.NoError(t, err)
	for _, tc := range []struct {
		url  string
		size int
		want int
	}{
		{"redis://127.0.0.1:6379/0", def.Redis.PoolSize, 100},
		{"redis://127.0.0.1:6379/0", 40, 40},
		{"redis://127.0.0.1:6379/0?pool_size=30", 100, 30},
	} {
		rdb, stop, err := openRedis(configs.Redis{URL: tc.url, PoolSize: tc.size}, zap.NewNop())
		require.NoError(t, err)
		c, ok := rdb.(*redis.Client)
		require.True(t, ok)
		require.Equal(t, tc.want, c.Options().PoolSize, tc.url)
		require.NoError(t, rdb.Close())
		stop()
	}
}

// The node's Redis pool is reported as go-redis sees it: a command that
// waited for the pool's one busy connection counts as a wait, one that gave
// up as a timeout.
func TestPoolCollectorCountsWaits(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	ctx := context.Background()
	other := s.Client(t)
	// pool is a client of one connection and its collector.
	pool := func(timeout time.Duration) (*redis.Client, *prometheus.Registry) {
		rdb := redis.NewClient(&redis.Options{Addr: s.Addr, PoolSize: 1, PoolTimeout: timeout,
			MaxRetries: -1}) // a timeout is retried otherwise, and counted each time
		t.Cleanup(func() { rdb.Close() })
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(newPoolCollector(rdb))
		return rdb, reg
	}
	// hold keeps rdb's one connection in a BLPOP until release, once Redis
	// has it blocked.
	hold := func(rdb *redis.Client) (release func()) {
		done := make(chan error, 1)
		go func() { done <- rdb.BLPop(ctx, 0, "nothing").Err() }()
		for {
			info, err := other.Info(ctx, "clients").Result()
			require.NoError(t, err)
			if strings.Contains(info, "blocked_clients:1\r\n") {
				break
			}
		}
		return func() {
			require.NoError(t, other.LPush(ctx, "nothing", "x").Err())
			require.NoError(t, <-done)
		}
	}
	counters := func(reg *prometheus.Registry) map[string]float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		got := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				if c := m.GetCounter(); c != nil {
					got[mf.GetName()] = c.GetValue()
				}
			}
		}
		return got
	}

	// A ping while the connection is held waits for it. It has to be
	// waiting when the BLPOP ends: tried again if it was not yet.
	rdb, reg := pool(time.Minute)
	for try := 0; counters(reg)["lianxin_redis_pool_waits_total"] == 0; try++ {
		require.Less(t, try, 20, "no ping ever waited")
		release := hold(rdb)
		pinged := make(chan error, 1)
		go func() { pinged <- rdb.Ping(ctx).Err() }()
		time.Sleep(20 * time.Millisecond)
		release()
		require.NoError(t, <-pinged)
	}
	got := counters(reg)
	require.Greater(t, got["lianxin_redis_pool_wait_seconds_total"], 0.0)
	require.Zero(t, got["lianxin_redis_pool_timeouts_total"])

	// A ping that waits longer than the pool's timeout gives up.
	rdb, reg = pool(50 * time.Millisecond)
	release := hold(rdb)
	require.ErrorIs(t, rdb.Ping(ctx).Err(), redis.ErrPoolTimeout)
	release()
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP lianxin_redis_pool_connections Connections of the node's Redis pool, by state (total, idle).
# TYPE lianxin_redis_pool_connections gauge
lianxin_redis_pool_connections{state="idle"} 1
lianxin_redis_pool_connections{state="total"} 1
# HELP lianxin_redis_pool_timeouts_total Commands that gave up waiting for a connection of the node's Redis pool.
# TYPE lianxin_redis_pool_timeouts_total counter
lianxin_redis_pool_timeouts_total 1
# HELP lianxin_redis_pool_waits_total Commands that waited for a connection of the node's Redis pool.
# TYPE lianxin_redis_pool_waits_total counter
lianxin_redis_pool_waits_total 0
`), "lianxin_redis_pool_connections", "lianxin_redis_pool_timeouts_total", "lianxin_redis_pool_waits_total"))
}
