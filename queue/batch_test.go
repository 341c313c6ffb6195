package queue_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestConcurrentScriptCallsShareRoundTrips: script calls made at once by
// many goroutines go to Redis in batches (one read of Redis's for many
// calls), and each caller still gets its own answer: its own contact, its
// own error, its own context's end.
func TestConcurrentScriptCallsShareRoundTrips(t *testing.T) {
	s := queuetest.RedisServerWith(t, "--enable-debug-command", "local")
	ctx := context.Background()
	rdb := s.Client(t)
	q, err := queue.New(rdb, queue.Options{NodeID: "node-a", Queues: testQueues})
	require.NoError(t, err)
	letter := func(i int) queue.Intake {
		return queue.Intake{Channel: queue.ChannelMailbox, Line: "cd-city-0001", Queue: "general",
			Subject: fmt.Sprintf("来信 %d", i), Citizen: queue.Citizen{Address: fmt.Sprintf("c%d@example.cn", i)}}
	}
	_, err = q.Enqueue(ctx, letter(-1), "web:first") // and loads the library
	require.NoError(t, err)
	reads := func() int {
		info, err := rdb.Info(ctx, "stats").Result()
		require.NoError(t, err)
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "total_reads_processed:"); ok {
				n, err := strconv.Atoi(v)
				require.NoError(t, err)
				return n
			}
		}
		t.Fatal("no total_reads_processed in INFO")
		return 0
	}

	// 400 letters at once, every tenth under the key of a letter before them
	// with other content (a conflict), then 100 accepts of contacts that wait
	// (nobody's offer): each caller gets its own answer.
	const n = 400
	before := reads()
	h0 := gather(t, q)["lianxin_redis_script_batch_calls"][""].GetHistogram()
	tns := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "web:k" + strconv.Itoa(i)
			if i%10 == 9 {
				key = "web:first"
			}
			var r queue.Receipt
			r, errs[i] = q.Enqueue(ctx, letter(i), key)
			tns[i] = r.TrackingNo
		}()
	}
	wg.Wait()
	got := reads() - before
	seen := map[string]int{}
	for i := range n {
		if i%10 == 9 {
			require.ErrorIs(t, errs[i], queue.ErrIdempotencyConflict, "letter %d", i)
			continue
		}
		require.NoError(t, errs[i], "letter %d", i)
		prev, dup := seen[tns[i]]
		require.False(t, dup, "letters %d and %d both got %s", prev, i, tns[i])
		seen[tns[i]] = i
	}
	for tn, i := range seen {
		c, err := q.Contact(ctx, tn)
		require.NoError(t, err)
		require.Equal(t, letter(i).Subject, c.Subject, "contact %s", tn)
	}
	var waiting []string
	for tn := range seen {
		waiting = append(waiting, tn)
	}
	var all, done sync.WaitGroup
	accepts := make([]error, 100)
	before = reads()
	for i := range accepts {
		all.Add(1)
		go func() {
			defer all.Done()
			accepts[i] = q.Accept(ctx, "1001", waiting[i])
		}()
	}
	all.Wait()
	got += reads() - before
	calls := n + len(accepts)
	for i, err := range accepts {
		require.ErrorIs(t, err, queue.ErrWrongState, "accept %d", i)
		require.ErrorContains(t, err, "the offer of "+waiting[i]+" is no longer open")
	}
	t.Logf("%d script calls in %d reads of Redis's", calls, got)
	require.Less(t, got, calls/2, "concurrent calls were not batched")
	// The node tells its engineer how its calls went: those calls, in
	// batches of at most 64.
	h := gather(t, q)["lianxin_redis_script_batch_calls"][""].GetHistogram()
	sum, count := h.GetSampleSum()-h0.GetSampleSum(), h.GetSampleCount()-h0.GetSampleCount()
	require.EqualValues(t, calls, sum)
	require.Less(t, count, uint64(calls/2))
	require.GreaterOrEqual(t, count, uint64((calls+63)/64))

	// While Redis is stalled with a call in flight, a caller whose context
	// ends gets its context's error, and its call, not sent yet, is never
	// run; the call in flight is answered.
	other := s.Client(t)
	slept := make(chan error, 1)
	go func() { slept <- other.Do(ctx, "DEBUG", "SLEEP", "2").Err() }()
	time.Sleep(100 * time.Millisecond) // let the sleep begin
	done.Add(1)
	var first error
	answered := make(chan struct{})
	go func() {
		defer done.Done()
		defer close(answered)
		_, first = q.Enqueue(ctx, letter(n), "web:in-flight")
	}()
	for !q.CallsSending() {
		select {
		case <-answered:
			t.Fatal("the call was answered before it was seen in flight: Redis woke too soon for this machine")
		case <-time.After(time.Millisecond):
		}
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = q.Enqueue(short, letter(n+1), "web:given-up")
	require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	require.NoError(t, <-slept)
	done.Wait()
	require.NoError(t, first)
	n1, err := rdb.Exists(ctx, "{lianxin}:idem:web:in-flight", "{lianxin}:idem:web:given-up").Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n1, "the call in flight ran, the one given up before it was sent did not")
}
