package queue_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestIntakeWaitsForTheReplica: with WaitReplicas 1, an intake succeeds
// only once the replica has the contact. A replica that cannot acknowledge
// (paused with DEBUG SLEEP, then killed) fails the intake with
// ErrNotReplicated, a temporary error; the provider's retry with the same
// key finds the same contact and succeeds once the replica has it again.
// A primary that lost its scripts (as a new primary after a failover has)
// still takes intakes.
func TestIntakeWaitsForTheReplica(t *testing.T) {
	primary := queuetest.RedisServer(t)
	replica := queuetest.Replica(t, primary)
	e := newEnv(t, primary, func(o *queue.Options) { o.WaitReplicas = 1; o.WaitTimeout = time.Second })
	ctx := context.Background()
	rc := replica.Client(t)
	onReplica := func(tn string) bool {
		n, err := rc.Exists(ctx, "{lianxin}:c:"+tn).Result()
		require.NoError(t, err)
		return n == 1
	}
	letter := queue.Intake{Channel: queue.ChannelMailbox, Line: "cd-city-0001", Queue: "general", Subject: "路灯",
		Citizen: queue.Citizen{Address: "a@example.cn", Email: "a@example.cn"}}

	r, err := e.q.Enqueue(ctx, letter, "mailbox:1")
	require.NoError(t, err)
	require.True(t, onReplica(r.TrackingNo), "acknowledged before the replica had it")

	// A replica that does not answer: WAIT gives up after WaitTimeout.
	sleeper := redis.NewClient(&redis.Options{Addr: replica.Addr, ReadTimeout: -1})
	defer sleeper.Close()
	slept := make(chan error, 1)
	// Longer than the four intakes below wait together (4 × WaitTimeout).
	go func() { slept <- sleeper.Do(ctx, "DEBUG", "SLEEP", "6").Err() }()
	time.Sleep(200 * time.Millisecond) // let the sleep begin
	letter.Subject = "噪音"
	_, err = e.q.Enqueue(ctx, letter, "mailbox:2")
	require.ErrorIs(t, err, queue.ErrNotReplicated)
	require.True(t, queue.Temporary(err))
	// The provider's retry reaches another node at once, whose connection
	// has written nothing: still not acknowledged while the replica lacks
	// the contact (the retry writes, so its WAIT waits for the first write).
	other, err := queue.New(primary.Client(t), queue.Options{NodeID: "node-b", Queues: testQueues, WaitReplicas: 1,
		WaitTimeout: time.Second})
	require.NoError(t, err)
	_, err = other.Enqueue(ctx, letter, "mailbox:2")
	require.ErrorIs(t, err, queue.ErrNotReplicated, "a retry acknowledged before the replica had the contact")
	_, err = e.q.EnqueueCall(ctx, queue.Intake{Queue: "general", Line: "12345", Citizen: queue.Citizen{Phone: "13800138000"}},
		queue.Call{ID: "call-1@test", Node: "node-a"})
	require.ErrorIs(t, err, queue.ErrNotReplicated)
	_, err = e.q.Receive(ctx, queue.Intake{Channel: queue.ChannelSMS, Line: "12345", Queue: "general", Text: "你好",
		Citizen: queue.Citizen{Address: "13800138001", Phone: "13800138001"}}, "sms:1")
	require.ErrorIs(t, err, queue.ErrNotReplicated)
	require.NoError(t, <-slept)

	// The provider retries: the same contact, now on the replica.
	r2, err := e.q.Enqueue(ctx, letter, "mailbox:2")
	require.NoError(t, err)
	require.True(t, r2.Duplicate)
	require.True(t, onReplica(r2.TrackingNo))
	c, err := e.q.EnqueueCall(ctx, queue.Intake{Queue: "general", Line: "12345", Citizen: queue.Citizen{Phone: "13800138000"}},
		queue.Call{ID: "call-1@test", Node: "node-a"})
	require.NoError(t, err)
	require.True(t, c.Duplicate)
	require.True(t, onReplica(c.TrackingNo))

	// A primary without the scripts (a new one after a failover).
	require.NoError(t, primary.Client(t).ScriptFlush(ctx).Err())
	letter.Subject = "井盖"
	r3, err := e.q.Enqueue(ctx, letter, "mailbox:3")
	require.NoError(t, err)
	require.True(t, onReplica(r3.TrackingNo))

	// The replica is gone: nothing is acknowledged.
	replica.Kill()
	letter.Subject = "占道"
	_, err = e.q.Enqueue(ctx, letter, "mailbox:4")
	require.True(t, errors.Is(err, queue.ErrNotReplicated), "%v", err)

	// Without WaitReplicas the same intake goes through on the primary alone.
	e0 := newEnv(t, primary)
	_, err = e0.q.Enqueue(ctx, letter, "mailbox:5")
	require.NoError(t, err)
}

// replicatedBench runs bench for a queue on a primary with one replica,
// without and with WAIT 1, and a letter to enqueue.
func replicatedBench(b *testing.B, bench func(b *testing.B, q *queue.Queue, wait int, in queue.Intake)) {
	primary := queuetest.RedisServer(b)
	queuetest.Replica(b, primary)
	for _, wait := range []int{0, 1} {
		b.Run(fmt.Sprintf("wait=%d", wait), func(b *testing.B) {
			q, err := queue.New(primary.Client(b), queue.Options{NodeID: "bench", Queues: testQueues,
				WaitReplicas: wait, WaitTimeout: time.Second})
			require.NoError(b, err)
			bench(b, q, wait, queue.Intake{Channel: queue.ChannelMailbox, Line: "cd-city-0001", Queue: "general",
				Subject: "路灯", Citizen: queue.Citizen{Address: "a@example.cn", Email: "a@example.cn"}})
		})
	}
}

// BenchmarkEnqueueReplicated: an enqueue on a primary with one replica,
// without and with WAIT 1 pipelined after the script (one writer).
func BenchmarkEnqueueReplicated(b *testing.B) {
	replicatedBench(b, func(b *testing.B, q *queue.Queue, wait int, in queue.Intake) {
		ctx := context.Background()
		b.ResetTimer()
		for i := range b.N {
			if _, err := q.Enqueue(ctx, in, fmt.Sprintf("bench:%d:%d", wait, i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEnqueueReplicatedParallel: enqueues on a primary with one
// replica from 32 writers at once (16 per core), as a node's intake under a
// surge, without and with WAIT 1 (each intake its own pipeline and WAIT).
func BenchmarkEnqueueReplicatedParallel(b *testing.B) {
	replicatedBench(b, func(b *testing.B, q *queue.Queue, wait int, in queue.Intake) {
		ctx := context.Background()
		run := strconv.FormatInt(time.Now().UnixNano(), 36)
		var next atomic.Int64
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				key := fmt.Sprintf("bench:%s:%d:%d", run, wait, next.Add(1))
				if _, err := q.Enqueue(ctx, in, key); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
