package queue_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
)

// A pause of Redis itself (DEBUG SLEEP 5, longer than the NodeTTL) declares
// no node dead: liveness is judged by Redis's clock, and Redis that served
// no heartbeat for a while gives every node a full TTL to be heard again.
// Both nodes run their real heartbeat and sweep loops on the real clock.
func TestRedisPauseDeclaresNoNodeDead(t *testing.T) {
	s := queuetest.RedisServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	opts := func(id string) queue.Options {
		return queue.Options{NodeID: id, Queues: testQueues, OfferTimeout: 20 * time.Second, MaxMisses: 3,
			NodeTTL: 3 * time.Second, Heartbeat: 500 * time.Millisecond, Sweep: 250 * time.Millisecond}
	}
	a, err := queue.New(s.Client(t), opts("node-a"))
	require.NoError(t, err)
	b, err := queue.New(s.Client(t), opts("node-b"))
	require.NoError(t, err)
	sess, err := a.Connect(ctx, queue.Profile{ID: "1001", Name: "Agent 1001", Skills: general,
		Capacity: map[queue.Channel]int{queue.ChannelMailbox: 1}})
	require.NoError(t, err)
	require.NoError(t, a.SetPresence(ctx, "1001", sess.ID, queue.PresenceReady, ""))

	var mu sync.Mutex
	var lost []queue.Event
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	pos, err := b.EventsPosition(ctx)
	require.NoError(t, err)
	wg.Add(3)
	go func() {
		defer wg.Done()
		_ = b.SubscribeFrom(ctx, pos, func(ev queue.Event) {
			if ev.Type == "node_lost" {
				mu.Lock()
				lost = append(lost, ev)
				mu.Unlock()
			}
		})
	}()
	go func() { defer wg.Done(); _ = a.Run(ctx) }()
	go func() { defer wg.Done(); _ = b.Run(ctx) }()

	// Both nodes are heard from; then Redis stalls for 5 s, from another
	// connection, and the nodes' loops go on across and after it.
	admin := redis.NewClient(&redis.Options{Addr: s.Addr, ReadTimeout: -1})
	defer admin.Close()
	waitHeartbeats(t, admin, 2)
	require.NoError(t, admin.Do(context.Background(), "DEBUG", "SLEEP", "5").Err())
	// Several sweeps and heartbeats after the pause.
	for i := 0; i < 8; i++ {
		_, err := b.Sweep(context.Background())
		require.NoError(t, err)
		time.Sleep(250 * time.Millisecond)
	}

	mu.Lock()
	require.Empty(t, lost, "a node was declared dead over a pause of Redis")
	mu.Unlock()
	st, err := a.Status(context.Background(), "1001")
	require.NoError(t, err)
	require.Equal(t, queue.PresenceReady, st.Presence)
	require.Equal(t, queue.AgentReady, st.State, "the desk on node-a was unseated")
}

// waitHeartbeats waits until n nodes are in the keyspace's node set.
func waitHeartbeats(t *testing.T, rdb *redis.Client, n int) {
	t.Helper()
	for {
		keys, err := rdb.Keys(context.Background(), "*nodes").Result()
		require.NoError(t, err)
		if len(keys) == 1 {
			c, err := rdb.ZCard(context.Background(), keys[0]).Result()
			require.NoError(t, err)
			if int(c) >= n {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// After Redis was unreachable (here: no heartbeat or sweep reached it for
// longer than the gap), a node that really died is still found dead, once
// the grace of one NodeTTL (by Redis's clock) has passed, and not before.
func TestDeadNodeFoundAfterTheGrace(t *testing.T) {
	s := queuetest.RedisServer(t)
	ctx := context.Background()
	opts := func(id string) queue.Options {
		return queue.Options{NodeID: id, Queues: testQueues, NodeTTL: 600 * time.Millisecond, Heartbeat: 100 * time.Millisecond}
	}
	a, err := queue.New(s.Client(t), opts("node-a"))
	require.NoError(t, err)
	b, err := queue.New(s.Client(t), opts("node-b"))
	require.NoError(t, err)
	admin := s.Client(t)
	require.NoError(t, a.Heartbeat(ctx))
	require.NoError(t, b.Heartbeat(ctx))
	time.Sleep(time.Second)   // nobody reaches Redis; node-a dies meanwhile
	back := redisMs(t, admin) // at most the time the heartbeat below notes
	require.NoError(t, b.Heartbeat(ctx))
	r, err := b.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, r.DeadNodes, "node-a is 1 s silent, but so was everyone: grace")
	for {
		require.NoError(t, b.Heartbeat(ctx))
		r, err := b.Sweep(ctx)
		require.NoError(t, err)
		if r.DeadNodes > 0 {
			require.Equal(t, 1, r.DeadNodes)
			require.GreaterOrEqual(t, redisMs(t, admin)-back, int64(600), "found dead within the grace")
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	n, err := admin.ZScore(ctx, "{lianxin}:nodes", "node-b").Result()
	require.NoError(t, err)
	require.Positive(t, n, "node-b, heard from, lives")
}

func redisMs(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	now, err := rdb.Time(context.Background()).Result()
	require.NoError(t, err)
	return now.UnixMilli()
}
