package sms

import (
	"context"
	"testing"

	"github.com/lianxin/lianxin/internal/leakcheck"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var _ Receiver = (*queue.Queue)(nil)

// newQueue is the real queue on s.
func newQueue(t testing.TB, s *queuetest.Server) *queue.Queue {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	q, err := queue.New(rdb, queue.Options{NodeID: "t", Queues: []queue.Def{{Name: "general"},
		{Name: "enterprise", Priority: 5}}})
	require.NoError(t, err)
	return q
}

// newGateway is a gateway on q with every HTTP provider enabled.
func newGateway(t testing.TB, q Receiver, edit func(*Config)) *Gateway {
	t.Helper()
	c := Config{Routes: []Route{{To: "123456", Line: "12345-6", Queue: "enterprise"}}}
	c.Aliyun.Enabled = true
	c.Tencent.Enabled = true
	c.Generic = Generic{Enabled: true, Secret: "0123456789abcdef-secret"}
	if edit != nil {
		edit(&c)
	}
	var opts []Option
	if qq, ok := q.(interface{ Outbox(string) *queue.Outbox }); ok {
		opts = append(opts, WithOutbox(qq.Outbox("sms-notices")))
	}
	var g *Gateway
	var err error
	if tt, ok := t.(*testing.T); ok {
		g, err = New(c, zaptest.NewLogger(tt), q, opts...)
	} else {
		g, err = New(c, nil, q, opts...)
	}
	require.NoError(t, err)
	return g
}

func contact(t testing.TB, q *queue.Queue, tn string) *queue.Contact {
	t.Helper()
	c, err := q.Contact(context.Background(), tn)
	require.NoError(t, err)
	return c
}
