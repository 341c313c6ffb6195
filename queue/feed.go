package queue

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// feed is a node's one shared reader of the event stream: the desks' hub
// and the SIP server each follow every event, and reading, parsing and
// completing the offers (loadContacts) once for both halves that work.
type feed struct {
	mu sync.Mutex
	// subs get the events, in the order they joined; n counts them and
	// those still waiting for the reader's position.
	subs []*feedSub
	n    int
	// pos is the last event handed out, or where the reader started; ""
	// while the reader has no position yet.
	pos string
	// ready is closed once pos is set; stop ends the reader.
	ready chan struct{}
	stop  context.CancelFunc
	done  chan struct{}
}

type feedSub struct {
	fn func(Event)
}

// SubscribeShared is Subscribe through the node's one shared reader of the
// event stream: every caller gets every event after the position it joined
// at, in order, until ctx ends; one read of the stream, one parse of each
// event and one load of the offered and assigned contacts (see
// loadContacts) serve them all. started, if set, is called with that
// position before fn gets any event (the board rebuilds today's figures up
// to it). fn runs on the reader's goroutine, one event at a time for all
// subscribers, so it must not block; it is not called after
// SubscribeShared returns. The reader stops when its last subscriber
// leaves.
func (q *Queue) SubscribeShared(ctx context.Context, started func(pos string), fn func(Event)) error {
	f := &q.feed
	sub := &feedSub{fn: fn}
	f.mu.Lock()
	if f.ready == nil {
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f.ready, f.stop, f.done, f.pos = make(chan struct{}), cancel, make(chan struct{}), ""
		go q.runFeed(rctx, f.ready, f.done)
	}
	ready := f.ready
	f.n++
	f.mu.Unlock()
	defer q.leaveFeed(sub)
	select {
	case <-ctx.Done():
		return nil
	case <-ready:
	}
	f.mu.Lock()
	// Under the lock no event is being handed out: the subscriber gets
	// exactly the events after pos.
	if started != nil {
		started(f.pos)
	}
	f.subs = append(f.subs, sub)
	f.mu.Unlock()
	<-ctx.Done()
	return nil
}

// leaveFeed removes sub; the last to leave stops the reader and waits for
// it, so a later subscriber starts a new one.
func (q *Queue) leaveFeed(sub *feedSub) {
	f := &q.feed
	f.mu.Lock()
	left := f.subs[:0]
	for _, s := range f.subs {
		if s != sub {
			left = append(left, s)
		}
	}
	clear(f.subs[len(left):])
	f.subs = left
	f.n--
	var done chan struct{}
	if f.n == 0 && f.stop != nil {
		f.stop()
		done = f.done
		f.ready, f.stop, f.done, f.pos = nil, nil, nil, ""
	}
	f.mu.Unlock()
	if done != nil {
		<-done
	}
}

// runFeed finds the stream's end, then reads from there, handing each
// event to every subscriber that has its position, until ctx ends.
func (q *Queue) runFeed(ctx context.Context, ready, done chan struct{}) {
	defer close(done)
	f := &q.feed
	var pos string
	for ctx.Err() == nil {
		var err error
		if pos, err = q.EventsPosition(ctx); err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		q.log.Warn("event stream unavailable", zap.Error(err))
		sleep(ctx, 500*time.Millisecond)
	}
	if ctx.Err() != nil {
		return
	}
	f.mu.Lock()
	f.pos = pos
	close(ready)
	f.mu.Unlock()
	_ = q.SubscribeFrom(ctx, pos, func(e Event) {
		q.m.fed(e.ID, time.Now())
		f.mu.Lock()
		defer f.mu.Unlock()
		if ctx.Err() != nil {
			return // the last subscriber left
		}
		f.pos = e.ID
		for _, s := range f.subs {
			s.fn(e)
		}
	})
}
