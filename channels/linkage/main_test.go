package linkage

import (
	"context"
	"testing"

	"github.com/lianxin/lianxin/internal/leakcheck"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// newQueue is the real queue on a redis-server of the test's own.
func newQueue(t *testing.T) *queue.Queue {
	t.Helper()
	s := queuetest.RedisServer(t)
	q, err := queue.New(s.Client(t), queue.Options{NodeID: "t", Queues: []queue.Def{{Name: "general"}}})
	require.NoError(t, err)
	return q
}

func contactOf(t *testing.T, q *queue.Queue, tn string) *queue.Contact {
	t.Helper()
	c, err := q.Contact(context.Background(), tn)
	require.NoError(t, err)
	return c
}
