package queue_test

import (
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// A call in talk whose browser phone lost it goes back to its queue at its old place — ahead of a caller who came
// later — the agent not ready with the reason and no miss, and the next agent is offered it at once; answered again,
// it is counted answered once. Anything but a call in talk of that agent is refused, and changes nothing.
func TestRequeueCallKeepsItsPlace(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.phoneAgent(e.q, "1001", general, voiceOnly)
		e.clock.Add(10 * time.Second)
		first := e.call(e.q, "general", "+8613800000001") // offered to 1001 at once
		require.NoError(t, e.q.Accept(e.ctx, "1001", first))
		queuedAt := e.contact(first).QueuedAt
		e.clock.Add(5 * time.Second)
		later := e.call(e.q, "general", "+8613800000002") // waits: 1001 is on a call
		e.requireWaiting(later)
		letter := e.letter("general", "路灯")

		require.ErrorIs(t, e.q.Requeue(e.ctx, "1001", first, "bored"), queue.ErrInvalid)
		require.ErrorIs(t, e.q.Requeue(e.ctx, "1002", first, queue.RequeueMediaLost), queue.ErrNotYours)
		require.ErrorIs(t, e.q.Requeue(e.ctx, "1001", later, queue.RequeueMediaLost), queue.ErrNotYours)
		require.ErrorIs(t, e.q.Requeue(e.ctx, "1001", letter, queue.RequeueMediaLost), queue.ErrNotYours)
		require.Equal(t, queue.StateAssigned, e.contact(first).State, "a refused requeue changes nothing")

		pos := e.position()
		require.NoError(t, e.q.Requeue(e.ctx, "1001", first, queue.RequeueMediaLost))
		ev := e.lastEvent(pos, isEvent(queue.EventRequeued, first))
		require.Equal(t, "1001", ev.Agent)
		require.Equal(t, queue.RequeueMediaLost, ev.Reason)
		require.Equal(t, "general", ev.Queue)
		require.NotNil(t, ev.Status)
		require.Equal(t, queue.PresenceNotReady, ev.Status.Presence)
		require.Equal(t, queue.RequeueMediaLost, ev.Status.Reason)
		require.Zero(t, ev.Status.Misses, "no miss charged")
		c := e.contact(first)
		require.Equal(t, queue.StateWaiting, c.State)
		require.Empty(t, c.Agent)
		require.Equal(t, queuedAt, c.QueuedAt, "its queued time kept")
		require.Equal(t, queue.CallCounts{Waiting: 2, Answered: 1, Requeues: 1}, e.callStats("general"))
		st, err := e.q.Status(e.ctx, "1001")
		require.NoError(t, err)
		require.Equal(t, queue.PresenceNotReady, st.Presence)
		require.Equal(t, queue.RequeueMediaLost, st.Reason)
		require.Zero(t, st.Load[queue.ChannelVoice])
		require.ErrorIs(t, e.q.Requeue(e.ctx, "1001", first, queue.RequeueMediaLost), queue.ErrNotYours, "only once")

		// The next agent gets the requeued call first: it kept its place ahead of the later caller.
		e.phoneAgent(e.q, "1002", general, voiceOnly)
		e.requireOffered(first, "1002")
		e.requireWaiting(later)
		require.NoError(t, e.q.Accept(e.ctx, "1002", first))
		require.Equal(t, queue.CallCounts{Waiting: 1, Talking: 1, Answered: 1, Requeues: 1}, e.callStats("general"),
			"answered once")
	})
}

// A requeue ends by dispatching: an agent ready and waiting is offered the call in the same step.
func TestRequeueOffersTheNextAgentAtOnce(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.phoneAgent(e.q, "1001", general, voiceOnly)
		e.clock.Add(time.Second)
		tn := e.call(e.q, "general", "+8613800000001")
		require.NoError(t, e.q.Accept(e.ctx, "1001", tn))
		e.phoneAgent(e.q, "1002", general, voiceOnly)
		pos := e.position()
		require.NoError(t, e.q.Requeue(e.ctx, "1001", tn, queue.RequeueDeskLost))
		e.requireOffered(tn, "1002")
		evs := e.eventsSince(pos)
		var types []queue.EventType
		for _, ev := range evs {
			if ev.TrackingNo == tn {
				types = append(types, ev.Type)
			}
		}
		require.Equal(t, []queue.EventType{queue.EventRequeued, queue.EventOffered}, types,
			"the call's node hears the requeue before the next ringing")
		calls, err := e.q.CallsInTalk(e.ctx, "1001")
		require.NoError(t, err)
		require.Empty(t, calls)
	})
}

// CallsInTalk names the calls an agent talks on and the node holding each caller.
func TestCallsInTalk(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.phoneAgent(e.q, "1001", general, voiceOnly)
		e.clock.Add(time.Second)
		tn := e.call(e.q, "general", "+8613800000001")
		calls, err := e.q.CallsInTalk(e.ctx, "1001")
		require.NoError(t, err)
		require.Empty(t, calls, "ringing is not talking")
		require.NoError(t, e.q.Accept(e.ctx, "1001", tn))
		calls, err = e.q.CallsInTalk(e.ctx, "1001")
		require.NoError(t, err)
		require.Equal(t, []queue.CallInTalk{{TrackingNo: tn, Node: e.q.NodeID()}}, calls)
	})
}
