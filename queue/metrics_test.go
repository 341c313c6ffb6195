package queue_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// gather reads a queue's metrics as a registry would serve them: by metric
// name, then by its label's value ("" for none).
func gather(t *testing.T, q *queue.Queue) map[string]map[string]*dto.Metric {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(q.Collectors()...)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]map[string]*dto.Metric{}
	for _, mf := range mfs {
		out[mf.GetName()] = map[string]*dto.Metric{}
		for _, m := range mf.GetMetric() {
			label := ""
			if len(m.GetLabel()) > 0 {
				label = m.GetLabel()[0].GetValue()
			}
			out[mf.GetName()][label] = m
		}
	}
	return out
}

// A node counts the scripts it runs, by script, and their failures: an
// answer a caller acts on (a contact that is not the agent's) is no
// failure, Redis out of reach is; and how late its feed hands events on.
func TestMetricsCountScriptsFailuresAndTheFeed(t *testing.T) {
	s := queuetest.RedisServer(t)
	e := newEnv(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var seen []queue.Event
	ready, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_ = e.q.SubscribeShared(ctx, func(string) { close(ready) }, func(ev queue.Event) {
			mu.Lock()
			seen = append(seen, ev)
			mu.Unlock()
		})
	}()
	<-ready
	e.agent(e.q, "1001", general, nil)
	tn := e.letter("general", "路灯不亮")
	e.requireOffered(tn, "1001")
	require.ErrorIs(t, e.q.Accept(e.ctx, "1002", tn), queue.ErrNotYours)
	e.finish("1001", tn)
	waitUntil(func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && seen[len(seen)-1].Type == queue.EventClosed
	})
	cancel()
	<-done

	m := gather(t, e.q)
	calls := m["lianxin_redis_script_seconds"]
	require.EqualValues(t, 1, calls["enqueue"].GetHistogram().GetSampleCount())
	require.EqualValues(t, 2, calls["accept"].GetHistogram().GetSampleCount(), "the refused accept is timed too")
	require.EqualValues(t, 1, calls["wrapup"].GetHistogram().GetSampleCount())
	require.Positive(t, calls["enqueue"].GetHistogram().GetSampleSum())
	require.Empty(t, m["lianxin_redis_script_failures_total"], "NOT_YOURS is an answer, not a failure")
	mu.Lock()
	n := len(seen)
	mu.Unlock()
	require.EqualValues(t, n, m["lianxin_feed_delay_seconds"][""].GetHistogram().GetSampleCount(),
		"every event the feed handed on is timed once")

	// The delay is the handing-on time less the event's own (its ID's ms).
	now := time.Now()
	before := m["lianxin_feed_delay_seconds"][""].GetHistogram().GetSampleSum()
	e.q.FedAt("1796225000000-3", time.UnixMilli(1796225000000+2500))
	e.q.FedAt("not-an-id", now)
	after := gather(t, e.q)["lianxin_feed_delay_seconds"][""].GetHistogram()
	require.EqualValues(t, n+1, after.GetSampleCount(), "an ID that is no stream ID is not counted")
	require.InDelta(t, 2.5, after.GetSampleSum()-before, 1e-9)

	// Redis out of reach: the enqueue fails and is counted.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	dead := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer dead.Close()
	q, err := queue.New(dead, queue.Options{NodeID: "node-x", Queues: testQueues})
	require.NoError(t, err)
	_, err = q.Enqueue(e.ctx, queue.Intake{Channel: queue.ChannelMailbox, Line: "cd-city-0001", Queue: "general",
		Subject: "x", Citizen: queue.Citizen{Email: "a@example.cn"}}, "")
	require.Error(t, err)
	require.True(t, queue.Temporary(err))
	failed := gather(t, q)["lianxin_redis_script_failures_total"]
	require.EqualValues(t, 1, failed["enqueue"].GetCounter().GetValue())
}
