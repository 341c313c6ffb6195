package queue_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzValidTrackingNo: a number that passes is all digits of a sane length,
// and changing any one digit of it makes it fail (what the check digit is for).
func FuzzValidTrackingNo(f *testing.F) {
	for _, s := range []string{"2611260000015", "2611260999992", "261126000001", "", "abc", "26112600000150000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !queue.ValidTrackingNo(s) {
			return
		}
		if len(s) < 13 || len(s) > 20 {
			t.Fatalf("%q passed with length %d", s, len(s))
		}
		b := []byte(s)
		for i, c := range b {
			if c < '0' || c > '9' {
				t.Fatalf("%q passed with a non-digit", s)
			}
			b[i] = '0' + (c-'0'+1)%10
			if queue.ValidTrackingNo(string(b)) {
				t.Fatalf("%q passed and so did %q", s, b)
			}
			b[i] = c
		}
	})
}

// TestTrackingNoSurvivesLostSecond: redis-server with appendfsync everysec
// loses its last second of writes in a power cut (simulated by cutting the
// append-only file back to its size a second before the kill). Every number
// acknowledged before the cut names its own letter afterwards or nothing
// (the letter was lost), never another letter enqueued after the restart —
// by this node, which remembers its numbers, or by a fresh one.
func TestTrackingNoSurvivesLostSecond(t *testing.T) {
	s := queuetest.RedisServerWith(t, "--appendonly", "yes", "--appendfsync", "everysec")
	ctx := context.Background()
	o := queue.Options{NodeID: "node-a", Queues: testQueues}
	qa, err := queue.New(s.Client(t), o)
	require.NoError(t, err)

	var mu sync.Mutex
	acked := map[string]string{} // tracking number → subject
	n := 0
	send := func(q *queue.Queue) {
		mu.Lock()
		n++
		subject := fmt.Sprintf("letter %d", n)
		mu.Unlock()
		r, err := q.Enqueue(ctx, queue.Intake{Channel: queue.ChannelMailbox, Line: "l", Queue: "general",
			Subject: subject, Citizen: queue.Citizen{Address: "a@example.cn"}}, "")
		if err != nil {
			return // Redis is down: not acknowledged
		}
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := acked[r.TrackingNo]; ok {
			t.Errorf("%s acknowledged for %q and again for %q", r.TrackingNo, prev, subject)
		}
		acked[r.TrackingNo] = subject
	}

	// Load: four writers while the append-only file's size is sampled.
	type sample struct {
		at   time.Time
		size int64
	}
	var samples []sample
	incr := func() string {
		m, _ := filepath.Glob(filepath.Join(s.Dir, "appendonlydir", "*.incr.aof"))
		require.Len(t, m, 1, "one incremental append-only file")
		return m[0]
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				send(qa)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	start := time.Now()
	for time.Since(start) < 2500*time.Millisecond {
		if fi, err := os.Stat(incr()); err == nil {
			samples = append(samples, sample{time.Now(), fi.Size()})
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	s.Kill() // the power cut
	cut := time.Now().Add(-time.Second)
	var size int64
	for _, sm := range samples {
		if sm.at.Before(cut) {
			size = sm.size
		}
	}
	require.NotZero(t, size)
	require.NoError(t, os.Truncate(incr(), size))
	s.Restart(t)

	// After the restart: this node and a node that never issued a number.
	qb, err := queue.New(s.Client(t), queue.Options{NodeID: "node-b", Queues: testQueues})
	require.NoError(t, err)
	for range 100 {
		send(qa)
		send(qb)
	}

	lost := 0
	for tn, subject := range acked {
		c, err := qa.Contact(ctx, tn)
		if errors.Is(err, queue.ErrNotFound) {
			lost++
			continue
		}
		require.NoError(t, err)
		require.Equal(t, subject, c.Subject, "tracking number %s names another letter", tn)
	}
	t.Logf("%d letters acknowledged, %d lost with the last second", len(acked), lost)
	require.NotZero(t, lost, "the cut lost nothing: the test proves nothing")
}

// TestTrackingNoAfterEmptyRestart: the embedded store restarts empty (and
// the node with it): the numbers it gives next are not those given before.
func TestTrackingNoAfterEmptyRestart(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		seen := map[string]bool{}
		for range 5 {
			seen[e.letter("general", "before")] = true
		}
		queuetest.Flush(t, s)
		e.clock.Add(time.Millisecond)
		q, err := queue.New(s.Client(t), queue.Options{NodeID: "node-a", Queues: testQueues, Now: e.clock.Now})
		require.NoError(t, err)
		for range 5 {
			r, err := q.Enqueue(e.ctx, queue.Intake{Channel: queue.ChannelMailbox, Line: "l", Queue: "general",
				Subject: "after", Citizen: queue.Citizen{Address: "a@example.cn"}}, "")
			require.NoError(t, err)
			require.False(t, seen[r.TrackingNo], "%s given again", r.TrackingNo)
			require.True(t, queue.ValidTrackingNo(r.TrackingNo), r.TrackingNo)
			seen[r.TrackingNo] = true
		}
	})
}

// TestTrackingNoSkipsExisting: a daily counter that went back (and a clock
// that did not move) never overwrites a contact that still exists.
func TestTrackingNoSkipsExisting(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		in := func(subject string) queue.Intake {
			return queue.Intake{Channel: queue.ChannelMailbox, Line: "l", Queue: "general", Subject: subject,
				Citizen: queue.Citizen{Address: "a@example.cn"}}
		}
		first := map[string]string{}
		for i := range 3 {
			r, err := e.q.Enqueue(e.ctx, in(fmt.Sprint("first ", i)), "")
			require.NoError(t, err)
			first[r.TrackingNo] = fmt.Sprint("first ", i)
		}
		rdb := s.Client(t)
		keys, err := rdb.Keys(e.ctx, "{lianxin}:seq:*").Result()
		require.NoError(t, err)
		require.Len(t, keys, 1)
		require.NoError(t, rdb.Set(e.ctx, keys[0], 0, 0).Err())
		q, err := queue.New(s.Client(t), queue.Options{NodeID: "node-b", Queues: testQueues, Now: e.clock.Now})
		require.NoError(t, err)
		for i := range 3 {
			r, err := q.Enqueue(e.ctx, in(fmt.Sprint("second ", i)), "")
			require.NoError(t, err)
			_, dup := first[r.TrackingNo]
			require.False(t, dup, "%s given again", r.TrackingNo)
		}
		for tn, subject := range first {
			c, err := e.q.Contact(e.ctx, tn)
			require.NoError(t, err)
			require.Equal(t, subject, c.Subject)
		}
	})
}

// TestTimedOutEnqueueRunsOnce: Redis stalls longer than the client's read
// timeout; go-redis sends the EVALSHA again (and again); Redis runs every
// copy when it wakes. A letter without an idempotency key still makes one
// contact.
func TestTimedOutEnqueueRunsOnce(t *testing.T) {
	s := queuetest.RedisServerWith(t, "--enable-debug-command", "local")
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, ReadTimeout: 200 * time.Millisecond, MaxRetries: 3,
		MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 10 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	q, err := queue.New(rdb, queue.Options{NodeID: "node-a", Queues: testQueues})
	require.NoError(t, err)
	in := queue.Intake{Channel: queue.ChannelMailbox, Line: "l", Queue: "general", Subject: "once",
		Citizen: queue.Citizen{Address: "a@example.cn"}}
	_, err = q.Enqueue(ctx, in, "") // loads the script
	require.NoError(t, err)
	// Idle connections in the pool, as on a busy node: a retry takes one of
	// them (a new connection's handshake would time out first).
	var warm sync.WaitGroup
	for range 6 {
		warm.Add(1)
		go func() {
			defer warm.Done()
			assert.NoError(t, rdb.Do(ctx, "DEBUG", "SLEEP", "0.02").Err())
		}()
	}
	warm.Wait()

	other := s.Client(t)
	slept := make(chan error, 1)
	go func() { slept <- other.Do(ctx, "DEBUG", "SLEEP", "2").Err() }()
	time.Sleep(100 * time.Millisecond) // let the sleep begin
	began := time.Now()
	_, err = q.Enqueue(ctx, in, "")
	t.Logf("enqueue during the stall: %v after %v", err, time.Since(began))
	require.NoError(t, <-slept)
	require.NoError(t, rdb.Ping(ctx).Err()) // behind every copy the client sent

	keys, err := other.Keys(ctx, "{lianxin}:c:*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 2, "the stalled enqueue made %d contacts", len(keys)-1)
}

// TestRepeatOfAKeyedIntakeAnswersAsTheFirst: go-redis sends a script call
// again when its reply is late, and Redis runs both (as above). An intake
// with an idempotency key has no call:<id> guard: the key's record and the
// contact's note of the call that made or last changed it make the repeat
// answer what the first call answered and change nothing, and no call:<id>
// key is left; another call under the same key (a provider's retry) is
// still told "duplicate". Without a key, the call:<id> guard does the same.
func TestRepeatOfAKeyedIntakeAnswersAsTheFirst(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		rdb := s.Client(t)
		e.agent(e.q, "1001", general, map[queue.Channel]int{queue.ChannelMailbox: 1, queue.ChannelSMS: 2})
		letter := queue.Intake{Channel: queue.ChannelMailbox, Line: "cd-city-0001", Queue: "general", Subject: "噪音扰民",
			Citizen: queue.Citizen{Address: "a@example.cn"}}

		// repeated makes intake call id twice, as go-redis's second send of
		// it: the repeat answers what the first call did.
		repeated := func(id string, intake func() (queue.Receipt, error)) queue.Receipt {
			t.Helper()
			e.q.RepeatCalls(id)
			first, err := intake()
			require.NoError(t, err)
			again, err := intake()
			require.NoError(t, err)
			require.Equal(t, first, again, "a repeat of call %s", id)
			return first
		}
		enqueue := func(key string) func() (queue.Receipt, error) {
			return func() (queue.Receipt, error) { return e.q.Enqueue(e.ctx, letter, key) }
		}
		receive := func(text, key string) func() (queue.Receipt, error) {
			return func() (queue.Receipt, error) { return e.q.Receive(e.ctx, sms(text), key) }
		}

		// A letter, offered at once to the free agent.
		first := repeated("call-1", enqueue("web:k1"))
		require.False(t, first.Duplicate)
		e.requireOffered(first.TrackingNo, "1001")
		require.Equal(t, 1, e.contact(first.TrackingNo).Offers)
		e.q.RepeatCalls("")
		retry, err := enqueue("web:k1")()
		require.NoError(t, err)
		require.Equal(t, queue.Receipt{TrackingNo: first.TrackingNo, Duplicate: true}, retry)

		// An SMS that starts a conversation, and one that joins it.
		started := repeated("call-2", receive("楼下烧烤油烟很大", "sms:1"))
		require.False(t, started.Duplicate)
		joined := repeated("call-3", receive("地址是建设路88号", "sms:2"))
		require.True(t, joined.Joined)
		e.q.RepeatCalls("")
		retry, err = receive("地址是建设路88号", "sms:2")()
		require.NoError(t, err)
		require.Equal(t, queue.Receipt{TrackingNo: started.TrackingNo, Duplicate: true}, retry)
		msgs, err := e.q.Messages(e.ctx, started.TrackingNo)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.Equal(t, 1, e.contact(started.TrackingNo).MessageCount)

		calls, err := rdb.Keys(e.ctx, "{lianxin}:call:*").Result()
		require.NoError(t, err)
		require.Empty(t, calls, "a keyed intake keeps no call guard")

		// Without a key: the call guard.
		letter.Subject = "无键来信"
		unkeyed := repeated("call-4", enqueue(""))
		require.False(t, unkeyed.Duplicate)
		calls, err = rdb.Keys(e.ctx, "{lianxin}:call:*").Result()
		require.NoError(t, err)
		require.Equal(t, []string{"{lianxin}:call:node-a:call-4"}, calls)

		contacts, err := rdb.Keys(e.ctx, "{lianxin}:c:*").Result()
		require.NoError(t, err)
		require.Len(t, contacts, 3, "the letter, the conversation, the letter without a key")
	})
}
