package queue_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// The node's shared reader hands every event after each subscriber's
// position to it, in order, with the offer's contact loaded; a subscriber
// that joins later starts at its own position; none is called after it
// returned.
func TestSubscribeSharedHandsEveryEventToEachSubscriber(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		b := e.node("node-b")
		ctx1, cancel1 := context.WithCancel(context.Background())
		defer cancel1()
		type sub struct {
			mu     sync.Mutex
			pos    string
			events []queue.Event
			done   chan struct{}
			ready  chan struct{}
		}
		join := func(ctx context.Context) *sub {
			x := &sub{done: make(chan struct{}), ready: make(chan struct{})}
			go func() {
				defer close(x.done)
				_ = b.SubscribeShared(ctx, func(pos string) { x.pos = pos; close(x.ready) }, func(ev queue.Event) {
					x.mu.Lock()
					x.events = append(x.events, ev)
					x.mu.Unlock()
				})
			}()
			<-x.ready
			return x
		}
		offered := func(x *sub, tn string) bool {
			x.mu.Lock()
			defer x.mu.Unlock()
			for _, ev := range x.events {
				if ev.Type == queue.EventOffered && ev.TrackingNo == tn {
					return true
				}
			}
			return false
		}
		first := join(ctx1)
		e.agent(b, "1001", general, nil)
		tn1 := e.letter("general", "first letter")
		waitUntil(func() bool { return offered(first, tn1) })

		ctx2, cancel2 := context.WithCancel(context.Background())
		defer cancel2()
		second := join(ctx2)
		require.NoError(t, b.Accept(context.Background(), "1001", tn1))
		require.NoError(t, b.WrapUp(context.Background(), "1001", tn1, "consultation", queue.OutcomeResolved, ""))
		tn2 := e.letter("general", "second letter")
		waitUntil(func() bool { return offered(first, tn2) && offered(second, tn2) })

		first.mu.Lock()
		second.mu.Lock()
		// The second sees exactly the first's events after its position.
		var after []queue.Event
		for _, ev := range first.events {
			if streamAfter(ev.ID, second.pos) {
				after = append(after, ev)
			}
		}
		require.Greater(t, len(after), 0)
		require.Equal(t, len(after), len(second.events))
		for i := range after {
			require.Equal(t, after[i].ID, second.events[i].ID)
		}
		require.False(t, streamAfter(first.events[0].ID, second.pos), "the second joined after the first offer")
		for i := 1; i < len(first.events); i++ {
			require.True(t, streamAfter(first.events[i].ID, first.events[i-1].ID), "in order")
		}
		for _, ev := range first.events {
			if ev.Type == queue.EventOffered && ev.TrackingNo == tn2 {
				require.Equal(t, "second letter", ev.Contact.Subject, "the offer's contact is loaded for this node")
			}
		}
		n := len(second.events)
		second.mu.Unlock()
		first.mu.Unlock()

		cancel2()
		<-second.done
		tn3 := e.letter("general", "third letter")
		waitUntil(func() bool {
			first.mu.Lock()
			defer first.mu.Unlock()
			for _, ev := range first.events {
				if ev.Type == queue.EventQueued && ev.TrackingNo == tn3 {
					return true
				}
			}
			return false
		})
		second.mu.Lock()
		require.Equal(t, n, len(second.events), "no event after the second left")
		second.mu.Unlock()
		cancel1()
		<-first.done
	})
}

// waitUntil polls cond until it holds (the test's -timeout bounds it).
func waitUntil(cond func() bool) {
	for !cond() {
		time.Sleep(10 * time.Millisecond)
	}
}

func parseID(id string, ms, seq *int64) {
	a, b, _ := strings.Cut(id, "-")
	*ms, _ = strconv.ParseInt(a, 10, 64)
	*seq, _ = strconv.ParseInt(b, 10, 64)
}

// streamAfter says whether stream id a comes after b.
func streamAfter(a, b string) bool {
	var am, as, bm, bs int64
	parseID(a, &am, &as)
	parseID(b, &bm, &bs)
	return am > bm || am == bm && as > bs
}

// The common-problems clusterer's reader gets each queued event (and the
// offer of a contact offered as it was made, which has none) with its
// contact, loaded with the others of its read in one round trip, and no
// other event: no contact of an offered or assigned event is loaded for it,
// and one that cannot be read is left out without holding the reader.
func TestSubscribeQueuedLoadsOnlyNewContacts(t *testing.T) {
	s := queuetest.RedisServer(t)
	e := newEnv(t, s)
	rdb := s.Client(t)
	pos, err := e.q.EventsPosition(e.ctx)
	require.NoError(t, err)
	e.agent(e.q, "1001", general, nil)
	tn1 := e.letter("general", "路灯不亮")
	e.requireOffered(tn1, "1001")
	e.finish("1001", tn1)
	tn2 := e.letter("general", "夜间施工噪音")
	e.requireOffered(tn2, "1001")
	tn3 := e.letter("general", "已删除")
	require.NoError(t, rdb.Del(e.ctx, "{lianxin}:c:"+tn3).Err()) // gone, and no archive
	tn4 := e.letter("general", "读不出")
	require.NoError(t, rdb.HSet(e.ctx, "{lianxin}:c:"+tn4, "d", "{not json").Err()) // unreadable: left out, not a stall
	tn5 := e.letter("general", "之后的来信")

	require.NoError(t, rdb.ConfigResetStat(e.ctx).Err())
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	type got struct {
		ev queue.Event
		c  *queue.Contact
	}
	ch := make(chan got, 10)
	done := make(chan error, 1)
	go func() {
		done <- e.q.SubscribeQueued(ctx, pos, func(ev queue.Event, c *queue.Contact) { ch <- got{ev, c} })
	}()
	var all []got
	for len(all) < 5 {
		all = append(all, <-ch)
	}
	cancel()
	require.NoError(t, <-done)
	require.Empty(t, ch, "queued events only")
	for i, tn := range []string{tn1, tn2, tn3, tn4, tn5} {
		if i < 2 { // offered as they were made: their offer is their queued event
			require.Equal(t, queue.EventOffered, all[i].ev.Type)
			require.True(t, all[i].ev.Joined)
		} else {
			require.Equal(t, queue.EventQueued, all[i].ev.Type)
		}
		require.Equal(t, tn, all[i].ev.TrackingNo)
	}
	require.Equal(t, "路灯不亮", all[0].c.Subject)
	require.Equal(t, queue.StateClosed, all[0].c.State, "the contact as it is when read")
	require.Equal(t, "夜间施工噪音", all[1].c.Subject)
	require.Nil(t, all[2].c, "a contact gone from Redis, with no archive")
	require.Nil(t, all[3].c, "an unreadable contact")
	require.Equal(t, "之后的来信", all[4].c.Subject, "the reader goes on past it")

	info, err := rdb.Info(e.ctx, "commandstats").Result()
	require.NoError(t, err)
	hgetall := 0
	for _, line := range strings.Split(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_hgetall:calls="); ok {
			hgetall, _ = strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
		}
	}
	require.Equal(t, 5, hgetall, "the five new contacts, none for the other offered and assigned events")
}

// A stream reader lets events gather after a read that was not full: the
// common-problems reader a quarter of a second (queuedPace), the node's
// shared feed 2 ms (eventsPace, slowed here to be seen). Contacts enqueued
// one after another while it waits reach it in a few reads, not one read
// each.
func TestReadersReadAtTheirPace(t *testing.T) {
	for _, tc := range []struct {
		name string
		// listen reads from pos and closes ready once it reads.
		listen func(ctx context.Context, q *queue.Queue, pos string, ready chan struct{}, ch chan<- string) error
	}{
		{"queued", func(ctx context.Context, q *queue.Queue, pos string, ready chan struct{}, ch chan<- string) error {
			close(ready)
			return q.SubscribeQueued(ctx, pos, func(ev queue.Event, c *queue.Contact) { ch <- ev.TrackingNo })
		}},
		{"shared", func(ctx context.Context, q *queue.Queue, _ string, ready chan struct{}, ch chan<- string) error {
			q.SetEventsPace(250 * time.Millisecond)
			return q.SubscribeShared(ctx, func(string) { close(ready) }, func(ev queue.Event) {
				if ev.Type == queue.EventQueued {
					ch <- ev.TrackingNo
				}
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb, q, in := scriptsCell(t, queuetest.RedisServer(t), "路灯不亮")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pos, err := q.EventsPosition(ctx)
			require.NoError(t, err)
			ch := make(chan string, 64)
			ready, done := make(chan struct{}), make(chan error, 1)
			go func() { done <- tc.listen(ctx, q, pos, ready, ch) }()
			<-ready
			first, err := q.Enqueue(ctx, in, "")
			require.NoError(t, err)
			require.Equal(t, first.TrackingNo, <-ch)

			// The reader has just read: it waits before reading again.
			reads := commandCalls(t, rdb, "xread")
			const n = 40
			var want []string
			for range n {
				r, err := q.Enqueue(ctx, in, "")
				require.NoError(t, err)
				want = append(want, r.TrackingNo)
			}
			var got []string
			for len(got) < n {
				got = append(got, <-ch)
			}
			require.Equal(t, want, got, "every contact, in order")
			reads = commandCalls(t, rdb, "xread") - reads
			t.Logf("%d contacts in %d reads", n, reads)
			require.Less(t, reads, n/4, "the reader woke for every contact or few")
			cancel()
			require.NoError(t, <-done)
		})
	}
}

// A reader's batches overlap: the next batch is read and its contacts
// loaded while fn still has the one before (readStream). Across many
// batches (readCount is 512), each event still comes with its own contact,
// in order; fn pausing on the first event lets the next batches be read
// and loaded meanwhile.
func TestSubscribeQueuedAcrossBatches(t *testing.T) {
	_, q, in := scriptsCell(t, queuetest.RedisServer(t), "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pos, err := q.EventsPosition(ctx)
	require.NoError(t, err)
	const n = 1300
	var want []string
	subject := map[string]string{}
	for i := range n {
		in.Subject = "第" + strconv.Itoa(i) + "封来信"
		r, err := q.Enqueue(ctx, in, "")
		require.NoError(t, err)
		want = append(want, r.TrackingNo)
		subject[r.TrackingNo] = in.Subject
	}
	ch := make(chan string, n)
	done := make(chan error, 1)
	go func() {
		first := true
		done <- q.SubscribeQueued(ctx, pos, func(ev queue.Event, c *queue.Contact) {
			if first {
				first = false
				time.Sleep(300 * time.Millisecond)
			}
			if c == nil {
				ch <- ev.TrackingNo + ": no contact"
				return
			}
			ch <- ev.TrackingNo + ": " + c.TrackingNo + " " + c.Subject
		})
	}()
	for i, tn := range want {
		require.Equal(t, tn+": "+tn+" "+subject[tn], <-ch, "event %d", i)
	}
	cancel()
	require.NoError(t, <-done)
}

// A reader's own connections (ownConn) are replaced when they break: after
// Redis dropped every client's connection, while the reader waited in
// XREAD and between two loads of contacts, the reader still gets the next
// contacts' events with their contacts.
func TestReaderOutlivesItsConnections(t *testing.T) {
	s := queuetest.RedisServer(t)
	rdb, q, in := scriptsCell(t, s, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pos, err := q.EventsPosition(ctx)
	require.NoError(t, err)
	ch := make(chan string, 8)
	done := make(chan error, 1)
	go func() {
		done <- q.SubscribeQueued(ctx, pos, func(ev queue.Event, c *queue.Contact) {
			if c == nil {
				ch <- ev.TrackingNo + ": no contact"
				return
			}
			ch <- ev.TrackingNo + ": " + c.Subject
		})
	}()
	for i, subject := range []string{"断线之前", "第一次断线之后", "第二次断线之后"} {
		if i > 0 {
			killed, err := rdb.ClientKillByFilter(ctx, "TYPE", "normal").Result()
			require.NoError(t, err)
			require.GreaterOrEqual(t, killed, int64(2), "the reader's own connections, at least")
		}
		in.Subject = subject
		r, err := q.Enqueue(ctx, in, "")
		require.NoError(t, err)
		require.Equal(t, r.TrackingNo+": "+subject, <-ch)
	}
	cancel()
	require.NoError(t, <-done)
}
