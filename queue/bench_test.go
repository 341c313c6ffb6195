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
	benchLifecycle(b, "contact", false, map[queue.Channel]int{queue.ChannelMailbox: 1},
		func(ctx context.Context, q *queue.Queue, i int) (string, error) {
			r, err := q.Enqueue(ctx, queue.Intake{Channel: queue.ChannelMailbox, Queue: "general", Subject: "bench",
				Citizen: queue.Citizen{Phone: fmt.Sprintf("+86138%08d", i)}}, "")
			return r.TrackingNo, err
		}, acceptStep, wrapupStep)
}

// benchStep is one step of a lifecycle, for every contact of a batch.
type benchStep struct {
	name string
	do   func(ctx context.Context, q *queue.Queue, agent, tn string) error
}

var (
	acceptStep = benchStep{"accept", func(ctx context.Context, q *queue.Queue, agent, tn string) error {
		return q.Accept(ctx, agent, tn)
	}}
	hangupStep = benchStep{"hangup", func(ctx context.Context, q *queue.Queue, _, tn string) error {
		_, err := q.Hangup(ctx, tn, "caller")
		return err
	}}
	wrapupStep = benchStep{"wrapup", func(ctx context.Context, q *queue.Queue, agent, tn string) error {
		return q.WrapUp(ctx, agent, tn, queue.RequestConsultation, queue.OutcomeResolved, "")
	}}
)

// benchLifecycle seats 1,000 ready agents (with phones registered when
// phones is set), then runs b.N contacts in batches of 1,000: each batch is
// enqueued (and offered), then goes through steps in turn. It reports the
// time Redis spent in scripts for each, per contact, and in all, per unit.
func benchLifecycle(b *testing.B, unit string, phones bool, caps map[queue.Channel]int,
	enqueue func(ctx context.Context, q *queue.Queue, i int) (string, error), steps ...benchStep) {
	s := queuetest.RedisServer(b)
	rdb := s.Client(b)
	s.RealTime(b)
	q, err := queue.New(rdb, queue.Options{NodeID: "bench", Queues: testQueues})
	require.NoError(b, err)
	ctx := context.Background()
	const agents = 1000
	for i := range agents {
		id := strconv.Itoa(10000 + i)
		if phones {
			require.NoError(b, q.SetPhone(ctx, id, time.Now().Add(24*time.Hour)))
		}
		sess, err := q.Connect(ctx, queue.Profile{ID: id, Skills: map[string]int{"general": 3}, Capacity: caps})
		require.NoError(b, err)
		require.NoError(b, q.SetPresence(ctx, id, sess.ID, queue.PresenceReady, ""))
	}
	b.ResetTimer()
	var enq float64
	spent := make([]float64, len(steps))
	for done := 0; done < b.N; {
		n := min(b.N-done, agents)
		tns, owners := make([]string, n), make([]string, n)
		require.NoError(b, rdb.ConfigResetStat(ctx).Err())
		for i := range n {
			tn, err := enqueue(ctx, q, done+i)
			if err != nil {
				b.Fatal(err)
			}
			tns[i] = tn
		}
		enq += redisMicros(b, rdb, "fcall") + redisMicros(b, rdb, "evalsha")
		for i, tn := range tns {
			c, err := q.Contact(ctx, tn)
			if err != nil || c.State != queue.StateOffered {
				b.Fatalf("not offered: %v %+v", err, c)
			}
			owners[i] = c.Agent
		}
		for k, st := range steps {
			require.NoError(b, rdb.ConfigResetStat(ctx).Err())
			for i, tn := range tns {
				if err := st.do(ctx, q, owners[i], tn); err != nil {
					b.Fatal(err)
				}
			}
			spent[k] += redisMicros(b, rdb, "fcall") + redisMicros(b, rdb, "evalsha")
		}
		done += n
	}
	b.StopTimer()
	total := enq
	b.ReportMetric(enq/float64(b.N), "redis-µs/enqueue")
	for k, st := range steps {
		b.ReportMetric(spent[k]/float64(b.N), "redis-µs/"+st.name)
		total += spent[k]
	}
	b.ReportMetric(total/float64(b.N), "redis-µs/"+unit)
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
	benchLifecycle(b, "call", true, map[queue.Channel]int{queue.ChannelVoice: 1, queue.ChannelMailbox: 1},
		func(ctx context.Context, q *queue.Queue, i int) (string, error) {
			phone := fmt.Sprintf("+86138%08d", i)
			r, err := q.EnqueueCall(ctx, queue.Intake{Queue: "general", Line: "12345",
				Citizen: queue.Citizen{Address: phone, Phone: phone}}, queue.Call{ID: "bench-" + phone, Node: "bench"})
			return r.TrackingNo, err
		}, acceptStep, hangupStep, wrapupStep)
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
