package queue_test

import (
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// An agent's hash is a hash table from its first connect, whatever its
// skills: the scripts read twenty-odd of its fields at a time, and in a
// listpack (Redis's encoding of a small hash) each read is a scan of the
// whole hash (see HASH_TABLE in common.lua). An agent with one skill has no
// value long enough to make Redis choose the table by itself.
func TestAgentHashIsAHashTable(t *testing.T) {
	s := queuetest.RedisServer(t)
	e := newEnv(t, s)
	rdb := s.Client(t)
	// The phone's registration comes before the desk: the hash exists, a
	// listpack, before Connect.
	require.NoError(t, e.q.SetPhone(e.ctx, "1001", e.clock.Now().Add(time.Hour)))
	key := e.q.Prefix() + "a:1001"
	enc, err := rdb.ObjectEncoding(e.ctx, key).Result()
	require.NoError(t, err)
	require.Equal(t, "listpack", enc, "before the desk connects")

	e.agent(e.q, "1001", map[string]int{"general": 5}, map[queue.Channel]int{queue.ChannelMailbox: 1})
	enc, err = rdb.ObjectEncoding(e.ctx, key).Result()
	require.NoError(t, err)
	require.Equal(t, "hashtable", enc)
	n, err := rdb.HLen(e.ctx, key).Result()
	require.NoError(t, err)
	bytes, err := rdb.MemoryUsage(e.ctx, key).Result()
	require.NoError(t, err)
	t.Logf("agent hash: %d fields, %d bytes as a hash table", n, bytes)

	// The agent still works as before: a letter goes to it.
	tn := e.letter("general", "噪音扰民")
	e.requireOffered(tn, "1001")
}
