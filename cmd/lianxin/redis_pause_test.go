package main

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestRedisPausedNoNodeLost: a 5 s pause of the real redis-server (DEBUG
// SLEEP 5 from another connection, longer than the default NodeTTL of 5 s
// once the last heartbeat's age is added) declares no node dead: the desk
// on node-a keeps its offer through the pause and accepts it afterwards,
// and no offer is rescinded.
func TestRedisPausedNoNodeLost(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	a := startNode(t, s.URL, "node-a")
	b := startNode(t, s.URL, "node-b")
	d := desk(t, a.base, "1002")
	send(t, d, "ready", nil)
	tn := letter(t, b.base, mailboxFor(t, "general"), "暂停期间的来信")
	require.Equal(t, tn, next(t, d, "offer").Object().TrackingNo)

	admin := redis.NewClient(&redis.Options{Addr: s.Addr, ReadTimeout: -1})
	defer admin.Close()
	require.NoError(t, admin.Do(context.Background(), "DEBUG", "SLEEP", "5").Err())
	// Let both nodes' heartbeats and sweeps run for a while after the pause
	// (each sweep runs every 250 ms): a node found dead would be found now.
	time.Sleep(2 * time.Second)

	events, err := admin.XRange(context.Background(), "{lianxin}:events", "-", "+").Result()
	require.NoError(t, err)
	require.NotEmpty(t, events)
	for _, ev := range events {
		require.NotEqual(t, "node_lost", ev.Values["type"], "a node was declared dead over a pause of Redis: %v", ev.Values)
		require.NotEqual(t, "rescinded", ev.Values["type"], "an offer was rescinded over a pause of Redis: %v", ev.Values)
	}
	// The desk is still seated and its offer still stands.
	send(t, d, "accept", map[string]any{"contact": tn})
}
