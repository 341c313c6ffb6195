package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

func TestOutbox(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		ob := e.q.Outbox("mail-acks")
		other := e.node("node-b").Outbox("mail-acks")
		id, err := ob.Put(e.ctx, []byte("ack 1"))
		require.NoError(t, err)
		_, err = ob.Put(e.ctx, []byte("ack 2"))
		require.NoError(t, err)

		jobs, err := ob.Claim(e.ctx, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, jobs, 1)
		require.Equal(t, id, jobs[0].ID)
		require.Equal(t, "ack 1", string(jobs[0].Payload))
		require.Equal(t, 1, jobs[0].Tries)

		// The other node gets the other job, not the leased one.
		jobs, err = other.Claim(e.ctx, 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, jobs, 1)
		require.Equal(t, "ack 2", string(jobs[0].Payload))
		require.NoError(t, other.Done(e.ctx, jobs[0].ID))

		// The first node dies with "ack 1" leased: after the lease it is due
		// again, for anyone.
		e.clock.Add(59 * time.Second)
		jobs, err = other.Claim(e.ctx, 10, time.Minute)
		require.NoError(t, err)
		require.Empty(t, jobs)
		e.clock.Add(2 * time.Second)
		jobs, err = other.Claim(e.ctx, 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, jobs, 1)
		require.Equal(t, 2, jobs[0].Tries)

		// Retry waits; Done is for good.
		require.NoError(t, other.Retry(e.ctx, jobs[0].ID, 30*time.Second))
		e.clock.Add(29 * time.Second)
		jobs, err = ob.Claim(e.ctx, 10, time.Minute)
		require.NoError(t, err)
		require.Empty(t, jobs)
		e.clock.Add(2 * time.Second)
		jobs, err = ob.Claim(e.ctx, 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, jobs, 1)
		require.NoError(t, ob.Done(e.ctx, jobs[0].ID))
		e.clock.Add(2 * time.Minute)
		jobs, err = ob.Claim(e.ctx, 10, time.Minute)
		require.NoError(t, err)
		require.Empty(t, jobs)
	})
}

func TestOutboxServe(t *testing.T) {
	s := queuetest.RedisServer(t)
	e := newEnv(t, s, func(o *queue.Options) { o.Now = time.Now })
	ob := e.q.Outbox("jobs")
	ctx, cancel := context.WithCancel(context.Background())
	wake := make(chan struct{}, 1)
	got := make(chan string, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ob.Serve(ctx, time.Minute, time.Hour, wake, func(ctx context.Context, j queue.Job) {
			require.NoError(t, ob.Done(ctx, j.ID))
			got <- string(j.Payload)
		})
	}()
	_, err := ob.Put(e.ctx, []byte("first"))
	require.NoError(t, err)
	wake <- struct{}{} // the poll is an hour: only the wake-up can find it
	require.Equal(t, "first", <-got)
	cancel()
	<-done
}
