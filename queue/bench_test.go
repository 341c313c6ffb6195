package queue_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// BenchmarkContactLifecycle runs one contact through enqueue (and offer),
// accept and wrap-up on a real redis-server with 1,000 ready agents, and
// reports the time Redis itself spent in the scripts per contact.
//
//	go test ./queue -run '^$' -bench ContactLifecycle -benchtime 20000x
func BenchmarkContactLifecycle(b *testing.B) {
	s := queuetest.RedisServer(b)
	rdb := s.Client(b)
	q, err := queue.New(rdb, queue.Options{NodeID: "bench", Queues: testQueues})
	require.NoError(b, err)
	ctx := context.Background()
	const agents = 1000
	for i := range agents {
		id := strconv.Itoa(10000 + i)
		sess, err := q.Connect(ctx, queue.Profile{ID: id, Skills: map[string]int{"general": 3},
			Capacity: map[queue.Channel]int{queue.ChannelMailbox: 1}})
		require.NoError(b, err)
		require.NoError(b, q.SetPresence(ctx, id, sess.ID, queue.PresenceReady, ""))
	}
	b.ResetTimer()
	var enq, acc, wrap float64
	for done := 0; done < b.N; {
		n := min(b.N-done, agents)
		tns, owners := make([]string, n), make([]string, n)
		require.NoError(b, rdb.ConfigResetStat(ctx).Err())
		for i := range n {
			r, err := q.Enqueue(ctx, queue.Intake{Channel: queue.ChannelMailbox, Queue: "general", Subject: "bench",
				Citizen: queue.Citizen{Phone: fmt.Sprintf("+86138%08d", done+i)}}, "")
			if err != nil {
				b.Fatal(err)
			}
			tns[i] = r.TrackingNo
		}
		enq += redisMicros(b, rdb, "evalsha")
		for i, tn := range tns {
			c, err := q.Contact(ctx, tn)
			if err != nil || c.State != queue.StateOffered {
				b.Fatalf("not offered: %v %+v", err, c)
			}
			owners[i] = c.Agent
		}
		require.NoError(b, rdb.ConfigResetStat(ctx).Err())
		for i, tn := range tns {
			if err := q.Accept(ctx, owners[i], tn); err != nil {
				b.Fatal(err)
			}
		}
		acc += redisMicros(b, rdb, "evalsha")
		require.NoError(b, rdb.ConfigResetStat(ctx).Err())
		for i, tn := range tns {
			if err := q.WrapUp(ctx, owners[i], tn, queue.RequestConsultation, queue.OutcomeResolved, ""); err != nil {
				b.Fatal(err)
			}
		}
		wrap += redisMicros(b, rdb, "evalsha")
		done += n
	}
	b.StopTimer()
	b.ReportMetric(enq/float64(b.N), "redis-µs/enqueue")
	b.ReportMetric(acc/float64(b.N), "redis-µs/accept")
	b.ReportMetric(wrap/float64(b.N), "redis-µs/wrapup")
	b.ReportMetric((enq+acc+wrap)/float64(b.N), "redis-µs/contact")
}

func redisMicros(b *testing.B, rdb *redis.Client, cmd string) float64 {
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	require.NoError(b, err)
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":"); ok {
			for _, kv := range strings.Split(strings.TrimSpace(rest), ",") {
				if v, ok := strings.CutPrefix(kv, "usec="); ok {
					f, _ := strconv.ParseFloat(v, 64)
					return f
				}
			}
		}
	}
	return 0
}

// BenchmarkCallLifecycle runs one call through EnqueueCall (and the offer
// that rings a phone), the answer (Accept), the hang-up and wrap-up on a real
// redis-server with 1,000 ready agents whose phones are registered, and
// reports the time Redis itself spent in the scripts per call.
//
//	go test ./queue -run '^$' -bench CallLifecycle -benchtime 20000x
func BenchmarkCallLifecycle(b *testing.B) {
	s := queuetest.RedisServer(b)
	rdb := s.Client(b)
	q, err := queue.New(rdb, queue.Options{NodeID: "bench", Queues: testQueues})
	require.NoError(b, err)
	ctx := context.Background()
	const agents = 1000
	for i := range agents {
		id := strconv.Itoa(10000 + i)
		require.NoError(b, q.SetPhone(ctx, id, time.Now().Add(24*time.Hour)))
		sess, err := q.Connect(ctx, queue.Profile{ID: id, Skills: map[string]int{"general": 3},
			Capacity: map[queue.Channel]int{queue.ChannelVoice: 1, queue.ChannelMailbox: 1}})
		require.NoError(b, err)
		require.NoError(b, q.SetPresence(ctx, id, sess.ID, queue.PresenceReady, ""))
	}
	b.ResetTimer()
	var enq, acc, hang, wrap float64
	for done := 0; done < b.N; {
		n := min(b.N-done, agents)
		tns, owners := make([]string, n), make([]string, n)
		require.NoError(b, rdb.ConfigResetStat(ctx).Err())
		for i := range n {
			phone := fmt.Sprintf("+86138%08d", done+i)
			r, err := q.EnqueueCall(ctx, queue.Intake{Queue: "general", Line: "12345",
				Citizen: queue.Citizen{Address: phone, Phone: phone}}, queue.Call{ID: "bench-" + phone, Node: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			tns[i] = r.TrackingNo
		}
		enq += redisMicros(b, rdb, "evalsha")
		for i, tn := range tns {
			c, err := q.Contact(ctx, tn)
			if err != nil || c.State != queue.StateOffered {
				b.Fatalf("not offered: %v %+v", err, c)
			}
			owners[i] = c.Agent
		}
		require.NoError(b, rdb.ConfigResetStat(ctx).Err())
		for i, tn := range tns {
			if err := q.Accept(ctx, owners[i], tn); err != nil {
				b.Fatal(err)
			}
		}
		acc += redisMicros(b, rdb, "evalsha")
		require.NoError(b, rdb.ConfigResetStat(ctx).Err())
		for _, tn := range tns {
			if _, err := q.Hangup(ctx, tn, "caller"); err != nil {
				b.Fatal(err)
			}
		}
		hang += redisMicros(b, rdb, "evalsha")
		require.NoError(b, rdb.ConfigResetStat(ctx).Err())
		for i, tn := range tns {
			if err := q.WrapUp(ctx, owners[i], tn, queue.RequestConsultation, queue.OutcomeResolved, ""); err != nil {
				b.Fatal(err)
			}
		}
		wrap += redisMicros(b, rdb, "evalsha")
		done += n
	}
	b.StopTimer()
	b.ReportMetric(enq/float64(b.N), "redis-µs/enqueue")
	b.ReportMetric(acc/float64(b.N), "redis-µs/accept")
	b.ReportMetric(hang/float64(b.N), "redis-µs/hangup")
	b.ReportMetric(wrap/float64(b.N), "redis-µs/wrapup")
	b.ReportMetric((enq+acc+hang+wrap)/float64(b.N), "redis-µs/call")
}

// BenchmarkEnqueueFsync enqueues letters from 16 goroutines on a real
// redis-server with appendonly yes, under appendfsync everysec and always:
// what waiting for the disk on every write costs.
//
//	go test ./queue -run '^$' -bench EnqueueFsync -benchtime 5000x
func BenchmarkEnqueueFsync(b *testing.B) {
	for _, fsync := range []string{"everysec", "always"} {
		b.Run(fsync, func(b *testing.B) {
			s := queuetest.RedisServerWith(b, "--appendonly", "yes", "--appendfsync", fsync)
			q, err := queue.New(s.Client(b), queue.Options{NodeID: "bench", Queues: testQueues})
			require.NoError(b, err)
			ctx := context.Background()
			b.SetParallelism(8) // × GOMAXPROCS writers, as many nodes' requests
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, err := q.Enqueue(ctx, queue.Intake{Channel: queue.ChannelMailbox, Line: "l", Queue: "general",
						Subject: "bench", Text: strings.Repeat("市民来信。", 60),
						Citizen: queue.Citizen{Address: "a@example.cn"}}, "")
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "enqueues/s")
		})
	}
}
