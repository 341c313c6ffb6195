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
