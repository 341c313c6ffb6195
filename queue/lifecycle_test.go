package queue_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

func TestIdempotentEnqueue(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		in := queue.Intake{Channel: queue.ChannelMailbox, Queue: "general", Subject: "噪音扰民", Text: "夜间施工"}
		r1, err := e.q.Enqueue(e.ctx, in, "mailbox:cd-city-0001:key-1")
		require.NoError(t, err)
		e.clock.Add(3 * time.Second) // a retry comes later; it is still the same request
		r2, err := e.q.Enqueue(e.ctx, in, "mailbox:cd-city-0001:key-1")
		require.NoError(t, err)
		require.True(t, r2.Duplicate)
		require.Equal(t, r1.TrackingNo, r2.TrackingNo)

		in.Text = "something else"
		r3, err := e.q.Enqueue(e.ctx, in, "mailbox:cd-city-0001:key-1")
		require.ErrorIs(t, err, queue.ErrIdempotencyConflict)
		require.Equal(t, r1.TrackingNo, r3.TrackingNo)

		stats, err := e.q.Stats(e.ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, waiting(stats, "general"))
	})
}

func TestEnqueueRejectsBadIntake(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		for _, in := range []queue.Intake{
			{Channel: "fax", Queue: "general"},
			{Channel: queue.ChannelSMS, Queue: "nope"},
			{Channel: queue.ChannelSMS, Queue: "general", Priority: 10},
			{Channel: queue.ChannelSMS, Queue: "general", Text: "\xff\xfe"},
			{Channel: queue.ChannelSMS, Queue: "general", RequestType: "rant"},
		} {
			_, err := e.q.Enqueue(e.ctx, in, "")
			require.ErrorIs(t, err, queue.ErrInvalid, "%+v", in)
		}
	})
}

func TestTrackingNumbersUniqueAcrossNodes(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		nodes := []*queue.Queue{e.q, e.node("node-b"), e.node("node-c")}
		var mu sync.Mutex
		seen := map[string]bool{}
		var wg sync.WaitGroup
		for i := range 150 {
			wg.Go(func() {
				r, err := nodes[i%3].Enqueue(context.Background(), queue.Intake{Channel: queue.ChannelSMS, Queue: "general"}, "")
				require.NoError(t, err)
				require.True(t, queue.ValidTrackingNo(r.TrackingNo), r.TrackingNo)
				mu.Lock()
				defer mu.Unlock()
				require.False(t, seen[r.TrackingNo], "duplicate %s", r.TrackingNo)
				seen[r.TrackingNo] = true
			})
		}
		wg.Wait()
		require.Len(t, seen, 150)
	})
}

func TestValidTrackingNo(t *testing.T) {
	for s, want := range map[string]bool{
		"2611260000015": true, "2611260000018": false, "2611260000105": false, // a transposed pair
		"261126000001": false, "26112600000a5": false, "": false,
	} {
		require.Equal(t, want, queue.ValidTrackingNo(s), s)
	}
}

func TestWrapUpClosesWithOutcome(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.agent(e.q, "1001", general, nil)
		tn := e.letter("general", "公积金提取")
		require.ErrorIs(t, e.q.WrapUp(e.ctx, "1001", tn, queue.RequestConsultation, queue.OutcomeResolved, ""), queue.ErrWrongState)
		require.NoError(t, e.q.Accept(e.ctx, "1001", tn))
		require.NoError(t, e.q.Accept(e.ctx, "1001", tn), "accepting twice is harmless")
		require.Equal(t, queue.StateAssigned, e.contact(tn).State)
		require.NoError(t, e.q.End(e.ctx, "1001", tn))
		require.Equal(t, queue.StateWrapUp, e.contact(tn).State)
		require.ErrorIs(t, e.q.WrapUp(e.ctx, "1001", tn, "rant", queue.OutcomeResolved, ""), queue.ErrInvalid)
		require.ErrorIs(t, e.q.WrapUp(e.ctx, "1002", tn, queue.RequestComplaint, queue.OutcomeDispatched, ""), queue.ErrNotYours)
		require.NoError(t, e.q.WrapUp(e.ctx, "1001", tn, queue.RequestComplaint, queue.OutcomeDispatched, "转住建局"))
		c := e.contact(tn)
		require.Equal(t, queue.StateClosed, c.State)
		require.Equal(t, queue.OutcomeDispatched, c.Outcome)
		require.Equal(t, queue.RequestComplaint, c.RequestType)
		require.Equal(t, "转住建局", c.Note)
		require.NotNil(t, c.ClosedAt)
		require.NotNil(t, c.AssignedAt)
	})
}

func TestDeadNodesOffersReturn(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		a, b := e.q, e.node("node-b")
		e.agent(a, "1001", general, nil) // desk on node A
		tn := e.letter("general", "a")
		e.requireOffered(tn, "1001")
		require.NoError(t, a.Heartbeat(e.ctx))
		require.NoError(t, b.Heartbeat(e.ctx))

		// Node A stops heartbeating; B goes on. After NodeTTL, B's sweep
		// returns A's offers and unseats A's desks.
		// Liveness is by Redis's clock: age A's heartbeat.
		e.clock.Add(4 * time.Second)
		require.NoError(t, a.AgeHeartbeat(e.ctx, "node-a", 4*time.Second))
		require.NoError(t, b.Heartbeat(e.ctx))
		r, err := b.Sweep(e.ctx)
		require.NoError(t, err)
		require.Equal(t, 0, r.DeadNodes)
		e.clock.Add(2 * time.Second)
		require.NoError(t, a.AgeHeartbeat(e.ctx, "node-a", 2*time.Second))
		require.NoError(t, b.Heartbeat(e.ctx))
		r, err = b.Sweep(e.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, r.DeadNodes)
		e.requireWaiting(tn)

		// The agent's desk reconnects to B: ready as before, offered again.
		sess, err := b.Connect(e.ctx, queue.Profile{ID: "1001", Skills: general, Capacity: map[queue.Channel]int{queue.ChannelMailbox: 1}})
		require.NoError(t, err)
		require.Empty(t, sess.Replaced)
		e.requireOffered(tn, "1001")
		require.Len(t, sess.Offers, 1)
	})
}

func TestReconnectGetsOpenOffersBack(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		first := e.agent(e.q, "1001", general, map[queue.Channel]int{queue.ChannelMailbox: 2})
		held := e.letter("general", "held")
		require.NoError(t, e.q.Accept(e.ctx, "1001", held))
		open := e.letter("general", "open")
		e.requireOffered(open, "1001")

		sess, err := e.node("node-b").Connect(e.ctx, queue.Profile{ID: "1001", Skills: general,
			Capacity: map[queue.Channel]int{queue.ChannelMailbox: 2}})
		require.NoError(t, err)
		require.Equal(t, first.ID, sess.Replaced)
		require.Equal(t, "node-a", sess.ReplacedNode)
		require.Len(t, sess.Offers, 1)
		require.Equal(t, open, sess.Offers[0].TrackingNo)
		require.Len(t, sess.Held, 1)
		require.Equal(t, held, sess.Held[0].TrackingNo)
		// The old desk can no longer act, nor unseat the new one.
		require.ErrorIs(t, e.q.SetPresence(e.ctx, "1001", first.ID, queue.PresenceNotReady, "break"), queue.ErrStale)
		require.NoError(t, e.q.Disconnect(e.ctx, "1001", first.ID))
		e.requireOffered(open, "1001")
		// The new desk going away returns the open offer, not the held contact.
		require.NoError(t, e.q.Disconnect(e.ctx, "1001", sess.ID))
		e.requireWaiting(open)
		require.Equal(t, queue.StateAssigned, e.contact(held).State)
	})
}

func TestEventsReachEveryNode(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		b := e.node("node-b")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		events := make(chan queue.Event, 100)
		done := make(chan struct{})
		// The subscriber starts at a known position: it sees everything after.
		pos, err := b.EventsPosition(ctx)
		require.NoError(t, err)
		go func() {
			defer close(done)
			_ = b.SubscribeFrom(ctx, pos, func(ev queue.Event) { events <- ev })
		}()
		e.agent(b, "1001", general, nil)
		tn := e.letter("general", "to node b") // enqueued through node A
		for ev := range events {
			if ev.Type == queue.EventOffered {
				require.Equal(t, tn, ev.TrackingNo)
				require.Equal(t, "1001", ev.Agent)
				require.Equal(t, "node-b", ev.Node)
				require.Equal(t, "to node b", ev.Contact.Subject)
				require.False(t, ev.Deadline.IsZero())
				break
			}
		}
		cancel()
		<-done
	})
}

func waiting(stats []queue.QueueStats, name string) int64 {
	for _, s := range stats {
		if s.Name == name {
			return s.Waiting
		}
	}
	return -1
}
