package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

var voiceOnly = map[queue.Channel]int{queue.ChannelVoice: 1}

// call queues a caller through q (held by q's node) and returns its tracking number.
func (e *env) call(q *queue.Queue, queueName, phone string) string {
	e.t.Helper()
	e.calls++
	r, err := q.EnqueueCall(e.ctx, queue.Intake{Line: "12345", Queue: queueName,
		Citizen: queue.Citizen{Address: phone, Phone: phone}}, queue.Call{ID: fmt.Sprintf("call-%d@trunk", e.calls), Node: q.NodeID()})
	require.NoError(e.t, err)
	require.False(e.t, r.Duplicate)
	e.clock.Add(time.Second)
	return r.TrackingNo
}

// phoneAgent is agent with a phone registered for an hour.
func (e *env) phoneAgent(q *queue.Queue, id string, skills map[string]int, caps map[queue.Channel]int) *queue.Session {
	e.t.Helper()
	require.NoError(e.t, q.SetPhone(e.ctx, id, e.clock.Now().Add(time.Hour)))
	return e.agent(q, id, skills, caps)
}

// eventsSince returns the events after pos up to the stream's end now. They
// are all in the stream already, so it returns at once.
func (e *env) eventsSince(pos string) []queue.Event {
	e.t.Helper()
	end := e.position()
	if end == pos {
		return nil
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	var out []queue.Event
	require.NoError(e.t, e.q.SubscribeFrom(ctx, pos, func(ev queue.Event) {
		out = append(out, ev)
		if ev.ID == end {
			cancel()
		}
	}))
	return out
}

// lastEvent is the last event after pos that matches.
func (e *env) lastEvent(pos string, match func(queue.Event) bool) queue.Event {
	e.t.Helper()
	evs := e.eventsSince(pos)
	for i := len(evs) - 1; i >= 0; i-- {
		if match(evs[i]) {
			return evs[i]
		}
	}
	e.t.Fatalf("no such event among %d", len(evs))
	return queue.Event{}
}

func (e *env) position() string {
	e.t.Helper()
	pos, err := e.q.EventsPosition(e.ctx)
	require.NoError(e.t, err)
	return pos
}

func (e *env) callStats(name string) queue.CallCounts {
	e.t.Helper()
	st, err := e.q.CallStats(e.ctx)
	require.NoError(e.t, err)
	return st[name]
}

func (e *env) sweep() queue.SweepResult {
	e.t.Helper()
	r, err := e.q.Sweep(e.ctx)
	require.NoError(e.t, err)
	return r
}

func isEvent(typ queue.EventType, tn string) func(queue.Event) bool {
	return func(ev queue.Event) bool { return ev.Type == typ && ev.TrackingNo == tn }
}

func TestEnqueueCallIsIdempotentOnCallID(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		in := queue.Intake{Line: "12345", Queue: "general", Citizen: queue.Citizen{Address: "+8613800000001", Phone: "+8613800000001"}}
		call := queue.Call{ID: "a84b4c76e66710@pc33.trunk", Node: "node-a"}
		r1, err := e.q.EnqueueCall(e.ctx, in, call)
		require.NoError(t, err)
		require.False(t, r1.Duplicate)
		e.clock.Add(2 * time.Second) // the trunk retries the INVITE
		r2, err := e.q.EnqueueCall(e.ctx, in, call)
		require.NoError(t, err)
		require.True(t, r2.Duplicate)
		require.Equal(t, r1.TrackingNo, r2.TrackingNo)

		c := e.contact(r1.TrackingNo)
		require.Equal(t, queue.ChannelVoice, c.Channel)
		require.Equal(t, "node-a", c.Node)
		require.Equal(t, call.ID, c.CallID)
		require.False(t, c.Callback)
		calls, err := e.q.Calls(e.ctx, "node-a")
		require.NoError(t, err)
		require.Equal(t, []string{r1.TrackingNo}, calls)
		require.Equal(t, queue.CallCounts{Waiting: 1}, e.callStats("general"))

		for name, bad := range map[string]struct {
			in   queue.Intake
			call queue.Call
		}{
			"not voice":     {queue.Intake{Channel: queue.ChannelSMS, Queue: "general"}, call},
			"no call id":    {queue.Intake{Queue: "general"}, queue.Call{Node: "node-a"}},
			"no node":       {queue.Intake{Queue: "general"}, queue.Call{ID: "x"}},
			"unknown queue": {queue.Intake{Queue: "nope"}, queue.Call{ID: "y", Node: "node-a"}},
		} {
			_, err := e.q.EnqueueCall(e.ctx, bad.in, bad.call)
			require.ErrorIs(t, err, queue.ErrInvalid, name)
		}
	})
}

func TestCallsGoOnlyToAgentsWithARegisteredPhone(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		// No phone: letters yes, calls no.
		e.agent(e.q, "1001", general, map[queue.Channel]int{queue.ChannelVoice: 1, queue.ChannelMailbox: 1})
		call := e.call(e.q, "general", "+8613800000001")
		e.requireWaiting(call)
		letter := e.letter("general", "路灯坏了")
		e.requireOffered(letter, "1001")
		st, err := e.q.Status(e.ctx, "1001")
		require.NoError(t, err)
		require.False(t, st.Phone)

		// The phone registers: the waiting call rings it at once.
		pos := e.position()
		until := e.clock.Now().Add(time.Hour)
		require.NoError(t, e.q.SetPhone(e.ctx, "1001", until))
		e.requireOffered(call, "1001")
		got, err := e.q.Phone(e.ctx, "1001")
		require.NoError(t, err)
		require.True(t, got.Equal(until.Truncate(time.Millisecond)), got)
		off := e.lastEvent(pos, isEvent(queue.EventOffered, call))
		require.Equal(t, "node-a", off.Contact.Node, "the offer names the node that rings the phone")
		require.True(t, off.Status.Phone)

		// Unregistered (REGISTER with Expires: 0): no more calls.
		require.NoError(t, e.q.Reject(e.ctx, "1001", call))
		require.NoError(t, e.q.SetPhone(e.ctx, "1001", time.Time{}))
		e.clock.Add(time.Minute) // past the rejection's skip window
		e.sweep()
		e.requireWaiting(call)
		got, err = e.q.Phone(e.ctx, "1001")
		require.NoError(t, err)
		require.True(t, got.IsZero())
	})
}

func TestPhoneRegistrationExpires(t *testing.T) {
	for _, swept := range []bool{false, true} {
		t.Run(fmt.Sprintf("swept=%v", swept), func(t *testing.T) {
			queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
				e := newEnv(t, s)
				require.NoError(t, e.q.SetPhone(e.ctx, "1001", e.clock.Now().Add(time.Minute)))
				e.agent(e.q, "1001", general, voiceOnly)
				e.clock.Add(time.Minute)
				if swept {
					pos := e.position()
					e.sweep()
					st, err := e.q.Status(e.ctx, "1001")
					require.NoError(t, err)
					require.False(t, st.Phone)
					// The sweep took the agent out and the desk is told.
					ev := e.lastEvent(pos, func(ev queue.Event) bool { return ev.Type == queue.EventAgent && ev.Agent == "1001" })
					require.False(t, ev.Status.Phone)
					require.Equal(t, queue.AgentReady, ev.Status.State, "still ready for letters")
				}
				// Expired, swept or not yet: the call is not offered.
				call := e.call(e.q, "general", "+8613800000001")
				e.requireWaiting(call)
				e.sweep()
				e.requireWaiting(call)
				// The phone registers again.
				require.NoError(t, e.q.SetPhone(e.ctx, "1001", e.clock.Now().Add(time.Minute)))
				e.requireOffered(call, "1001")
			})
		})
	}
}

func TestCallOfferExpiresAtTheRingTimeout(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s, func(o *queue.Options) { o.RingTimeout = 15 * time.Second; o.OfferTimeout = time.Minute })
		e.phoneAgent(e.q, "1001", general, map[queue.Channel]int{queue.ChannelVoice: 1, queue.ChannelMailbox: 1})
		letter := e.letter("general", "信")
		pos := e.position()
		call := e.call(e.q, "general", "+8613800000001")
		offeredAt := e.clock.Now().Add(-time.Second) // e.call moved the clock on
		require.Equal(t, offeredAt.Add(15*time.Second), e.lastEvent(pos, isEvent(queue.EventOffered, call)).Deadline)
		require.Equal(t, queue.CallCounts{Ringing: 1}, e.callStats("general"))

		e.clock.Add(13 * time.Second)
		require.Zero(t, e.sweep().Expired)
		e.requireOffered(call, "1001")
		e.clock.Add(time.Second) // 15 s after the offer
		require.Equal(t, 1, e.sweep().Expired)
		c := e.contact(call)
		require.Equal(t, queue.StateOffered, c.State, "offered again: the agent is still the only one")
		require.Equal(t, 2, c.Offers)
		e.requireOffered(letter, "1001") // the letter's minute is not over
		st, err := e.q.Status(e.ctx, "1001")
		require.NoError(t, err)
		require.Equal(t, 1, st.Misses, "an unanswered ring is a miss")
	})
}

func TestCallerWhoHangsUpWhileWaitingIsNeverOffered(t *testing.T) {
	for _, escalated := range []bool{false, true} {
		t.Run(fmt.Sprintf("escalated=%v", escalated), func(t *testing.T) {
			queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
				e := newEnv(t, s, func(o *queue.Options) {
					o.Queues = []queue.Def{{Name: "general"}, {Name: "enterprise", Priority: 5},
						{Name: "labour", Escalation: []queue.Step{{After: time.Minute, To: "general"}}}}
				})
				call := e.call(e.q, "labour", "+8613800000001")
				later := e.call(e.q, "labour", "+8613800000002")
				if escalated {
					e.clock.Add(time.Minute)
					require.Equal(t, 2, e.sweep().Escalated)
				}
				e.clock.Add(8 * time.Second)
				queued := e.contact(call).QueuedAt
				pos := e.position()
				res, err := e.q.Hangup(e.ctx, call, "caller")
				require.NoError(t, err)
				require.Equal(t, queue.HangupResult{Outcome: "abandoned"}, res)
				require.Equal(t, queue.OutcomeAbandoned, e.lastEvent(pos, isEvent(queue.EventClosed, call)).Outcome)

				c := e.contact(call)
				require.Equal(t, queue.StateClosed, c.State)
				require.Equal(t, queue.OutcomeAbandoned, c.Outcome)
				require.Equal(t, "caller", c.HangupBy)
				require.Equal(t, e.clock.Now().Sub(queued).Seconds(), c.WaitSeconds)
				n, err := e.q.Position(e.ctx, call)
				require.NoError(t, err)
				require.Zero(t, n)
				n, err = e.q.Position(e.ctx, later)
				require.NoError(t, err)
				require.Equal(t, 1, n, "the caller behind moves up")

				// Agents of both queues become ready: only the caller still
				// on the line is offered, to the first of them.
				e.phoneAgent(e.q, "1001", general, voiceOnly)
				e.phoneAgent(e.q, "1002", map[string]int{"labour": 3}, voiceOnly)
				e.sweep()
				require.Equal(t, queue.StateClosed, e.contact(call).State)
				taker, idle := "1002", "1001"
				if escalated {
					taker, idle = "1001", "1002" // ready first, and later waits in general too
				}
				e.requireOffered(later, taker)
				st, err := e.q.Status(e.ctx, idle)
				require.NoError(t, err)
				require.Equal(t, queue.AgentReady, st.State)
				require.Equal(t, queue.CallCounts{Ringing: 1, Abandoned: 1}, e.callStats("labour"))
			})
		})
	}
}

func TestCallerWhoHangsUpWhileRingingFreesTheAgent(t *testing.T) {
	for _, next := range []bool{false, true} {
		t.Run(fmt.Sprintf("next_caller=%v", next), func(t *testing.T) {
			queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
				e := newEnv(t, s, func(o *queue.Options) { o.MaxMisses = 1 })
				e.phoneAgent(e.q, "1001", general, voiceOnly)
				first := e.call(e.q, "general", "+8613800000001")
				e.requireOffered(first, "1001")
				var second string
				if next {
					second = e.call(e.q, "general", "+8613800000002")
					e.requireWaiting(second)
				}
				e.clock.Add(5 * time.Second)
				pos := e.position()
				res, err := e.q.Hangup(e.ctx, first, "caller") // CANCEL while the phone rings
				require.NoError(t, err)
				require.Equal(t, queue.HangupResult{Outcome: "abandoned", Agent: "1001"}, res)
				rs := e.lastEvent(pos, isEvent(queue.EventRescinded, first))
				require.Equal(t, "1001", rs.Agent)
				require.Equal(t, "abandoned", rs.Reason)

				c := e.contact(first)
				require.Equal(t, queue.StateClosed, c.State)
				require.Equal(t, queue.OutcomeAbandoned, c.Outcome)
				require.Empty(t, c.Agent)
				st, err := e.q.Status(e.ctx, "1001")
				require.NoError(t, err)
				require.Zero(t, st.Misses, "the caller left: not the agent's miss")
				if next {
					e.requireOffered(second, "1001") // at once, with no sweep
					require.Equal(t, map[queue.Channel]int{queue.ChannelVoice: 1}, st.Load)
					require.Equal(t, queue.AgentOffered, st.State)
				} else {
					require.Empty(t, st.Load)
					require.Equal(t, queue.AgentReady, st.State)
				}
				// Hanging up twice (a BYE after the CANCEL) changes nothing.
				res, err = e.q.Hangup(e.ctx, first, "caller")
				require.NoError(t, err)
				require.Equal(t, "already", res.Outcome)
				_, err = e.q.Hangup(e.ctx, "2611260999992", "caller")
				require.ErrorIs(t, err, queue.ErrNotFound)
				_, err = e.q.Hangup(e.ctx, first, "")
				require.ErrorIs(t, err, queue.ErrInvalid)
				letter := e.letter("general", "信")
				_, err = e.q.Hangup(e.ctx, letter, "caller")
				require.ErrorIs(t, err, queue.ErrWrongState, "a letter has no call")
				require.ErrorIs(t, e.q.CallHold(e.ctx, letter, true), queue.ErrWrongState)
				require.ErrorIs(t, e.q.CallHold(e.ctx, "2611260999992", true), queue.ErrNotFound)
			})
		})
	}
}

func TestAnsweredCallTalkHoldAndHangup(t *testing.T) {
	for _, by := range []string{"caller", "agent", "media_timeout"} {
		t.Run(by, func(t *testing.T) {
			queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
				e := newEnv(t, s)
				e.phoneAgent(e.q, "1001", general, voiceOnly)
				e.clock.Add(10 * time.Second)
				call := e.call(e.q, "general", "+8613800000001") // offered at once
				e.clock.Add(4 * time.Second)                     // ringing 5 s in all
				require.ErrorIs(t, e.q.CallHold(e.ctx, call, true), queue.ErrWrongState, "not answered yet")
				require.NoError(t, e.q.Accept(e.ctx, "1001", call)) // the phone answered
				c := e.contact(call)
				require.Equal(t, 5.0, c.WaitSeconds)
				require.Equal(t, queue.CallCounts{Talking: 1, Answered: 1}, e.callStats("general"))

				e.clock.Add(10 * time.Second)
				require.NoError(t, e.q.CallHold(e.ctx, call, true))
				require.True(t, e.contact(call).OnHold)
				e.clock.Add(3 * time.Second)
				require.NoError(t, e.q.CallHold(e.ctx, call, true), "holding twice is harmless")
				require.NoError(t, e.q.CallHold(e.ctx, call, false))
				require.NoError(t, e.q.CallHold(e.ctx, call, false))
				e.clock.Add(2 * time.Second)
				require.NoError(t, e.q.CallHold(e.ctx, call, true)) // on hold when it ends
				e.clock.Add(time.Second)

				pos := e.position()
				res, err := e.q.Hangup(e.ctx, call, by)
				require.NoError(t, err)
				require.Equal(t, queue.HangupResult{Outcome: "ended", Agent: "1001"}, res)
				end := e.lastEvent(pos, isEvent(queue.EventEnded, call))
				require.Equal(t, "1001", end.Agent)
				require.Equal(t, "node-a", end.Node, "the node of the agent's desk, which tells the desk")
				require.Equal(t, by, end.Reason)
				c = e.contact(call)
				require.Equal(t, queue.StateWrapUp, c.State)
				require.Equal(t, 16.0, c.TalkSeconds)
				require.Equal(t, 4.0, c.HoldSeconds)
				require.False(t, c.OnHold)
				require.Equal(t, by, c.HangupBy)
				require.Equal(t, queue.CallCounts{Answered: 1}, e.callStats("general"))
				calls, err := e.q.Calls(e.ctx, "node-a")
				require.NoError(t, err)
				require.Empty(t, calls)

				require.NoError(t, e.q.WrapUp(e.ctx, "1001", call, queue.RequestConsultation, queue.OutcomeResolved, ""))
				res, err = e.q.Hangup(e.ctx, call, "caller")
				require.NoError(t, err)
				require.Equal(t, "already", res.Outcome)
				require.Equal(t, queue.StateClosed, e.contact(call).State)
			})
		})
	}
}

func TestHangupAfterTheDeskEndedKeepsTheCallCountedUntilThen(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.phoneAgent(e.q, "1001", general, voiceOnly)
		call := e.call(e.q, "general", "+8613800000001")
		require.NoError(t, e.q.Accept(e.ctx, "1001", call))
		e.clock.Add(30 * time.Second)
		require.NoError(t, e.q.End(e.ctx, "1001", call)) // the desk ends before the phone hangs up
		require.Equal(t, queue.CallCounts{Talking: 1, Answered: 1}, e.callStats("general"))
		e.clock.Add(5 * time.Second)
		res, err := e.q.Hangup(e.ctx, call, "agent")
		require.NoError(t, err)
		require.Equal(t, "already", res.Outcome)
		c := e.contact(call)
		require.Equal(t, queue.StateWrapUp, c.State)
		require.Equal(t, 35.0, c.TalkSeconds)
		require.Equal(t, queue.CallCounts{Answered: 1}, e.callStats("general"))
	})
}

func TestPositionAndExpectedWait(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		w, err := e.q.ExpectedWait(e.ctx, "general")
		require.NoError(t, err)
		require.Zero(t, w, "nobody waits and nothing is known")
		_, err = e.q.ExpectedWait(e.ctx, "nope")
		require.ErrorIs(t, err, queue.ErrInvalid)

		a := e.call(e.q, "general", "+8613800000001")
		b := e.call(e.q, "general", "+8613800000002")
		r, err := e.q.EnqueueCall(e.ctx, queue.Intake{Queue: "general", Priority: 5}, queue.Call{ID: "urgent", Node: "node-a"})
		require.NoError(t, err)
		urgent := r.TrackingNo
		e.clock.Add(7 * time.Second)
		for tn, want := range map[string]int{urgent: 1, a: 2, b: 3} {
			n, err := e.q.Position(e.ctx, tn)
			require.NoError(t, err)
			require.Equal(t, want, n, tn)
		}
		w, err = e.q.ExpectedWait(e.ctx, "general")
		require.NoError(t, err)
		require.Equal(t, 9*time.Second, w, "no answers yet: at least what the head has waited")

		// Each answered 8 s after the one before: waits of 8, 18 and 25 s, median 18 s.
		sess := e.phoneAgent(e.q, "1001", general, voiceOnly) // 1 s
		for _, tn := range []string{urgent, a, b} {
			e.requireOffered(tn, "1001")
			n, err := e.q.Position(e.ctx, tn)
			require.NoError(t, err)
			require.Zero(t, n, "ringing: no longer waiting")
			require.NoError(t, e.q.Accept(e.ctx, "1001", tn))
			_, err = e.q.Hangup(e.ctx, tn, "caller")
			require.NoError(t, err)
			require.NoError(t, e.q.WrapUp(e.ctx, "1001", tn, queue.RequestConsultation, queue.OutcomeResolved, ""))
			e.clock.Add(8 * time.Second)
		}
		waits := []float64{}
		for _, tn := range []string{urgent, a, b} {
			waits = append(waits, e.contact(tn).WaitSeconds)
		}
		require.Equal(t, []float64{8, 18, 25}, waits)
		w, err = e.q.ExpectedWait(e.ctx, "general")
		require.NoError(t, err)
		require.Equal(t, 18*time.Second, w)

		// A backlog that does not move: the head's wait counts.
		require.NoError(t, e.q.SetPresence(e.ctx, "1001", sess.ID, queue.PresenceNotReady, "break"))
		e.call(e.q, "general", "+8613800000003")
		e.clock.Add(time.Minute)
		w, err = e.q.ExpectedWait(e.ctx, "general")
		require.NoError(t, err)
		require.Equal(t, 61*time.Second, w)
	})
}

func TestDeadNodesCallersBecomeCallbacksAtTheirPlace(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		a, b := e.q, e.node("node-b")
		// Desks and phones on node A; node B answers calls.
		e.phoneAgent(a, "1001", general, voiceOnly)
		e.phoneAgent(a, "1002", general, voiceOnly)
		talking := e.call(b, "general", "+8613800000001")
		e.requireOffered(talking, "1001")
		require.NoError(t, a.Accept(e.ctx, "1001", talking))
		ringing := e.call(b, "general", "+8613800000002")
		e.requireOffered(ringing, "1002")
		waiting := e.call(b, "general", "+8613800000003")
		e.requireWaiting(waiting)
		onA := e.call(a, "general", "+8613800000004") // a later caller, on the node that lives
		e.requireWaiting(onA)
		require.Equal(t, queue.CallCounts{Waiting: 2, Ringing: 1, Talking: 1, Answered: 1}, e.callStats("general"))

		require.NoError(t, a.Heartbeat(e.ctx))
		require.NoError(t, b.Heartbeat(e.ctx))
		e.clock.Add(6 * time.Second) // B is gone: no heartbeat
		require.NoError(t, a.AgeHeartbeat(e.ctx, "node-b", 6*time.Second))
		require.NoError(t, a.Heartbeat(e.ctx))
		pos := e.position()
		require.Equal(t, 1, e.sweep().DeadNodes)

		// In talk: the talk is over, the agent wraps up.
		c := e.contact(talking)
		require.Equal(t, queue.StateWrapUp, c.State)
		require.Equal(t, "node_lost", c.HangupBy)
		require.Empty(t, c.Node)
		require.False(t, c.Callback)
		// Ringing: the offer is rescinded (no miss); the caller becomes a
		// callback contact, at the head of the queue, offered again at once
		// (1002 is free again), and no phone rings for it.
		c = e.contact(ringing)
		require.True(t, c.Callback)
		require.Empty(t, c.Node)
		require.Equal(t, queue.StateOffered, c.State)
		require.Equal(t, "1002", c.Agent)
		st, err := e.q.Status(e.ctx, "1002")
		require.NoError(t, err)
		require.Zero(t, st.Misses)
		// Waiting: a callback contact at its old place, ahead of the later caller.
		c = e.contact(waiting)
		require.True(t, c.Callback)
		require.Equal(t, queue.StateWaiting, c.State)
		for tn, want := range map[string]int{waiting: 1, onA: 2} {
			n, err := e.q.Position(e.ctx, tn)
			require.NoError(t, err)
			require.Equal(t, want, n)
		}
		require.Equal(t, queue.CallCounts{Waiting: 1, Answered: 1, Callbacks: 2}, e.callStats("general"))
		calls, err := e.q.Calls(e.ctx, "node-b")
		require.NoError(t, err)
		require.Empty(t, calls)

		evs := e.eventsSince(pos)
		seen := map[string]string{}
		for _, ev := range evs {
			switch ev.Type {
			case queue.EventCallback, queue.EventEnded, queue.EventRescinded:
				seen[ev.TrackingNo] += string(ev.Type) + "/" + ev.Reason + " "
			case queue.EventOffered:
				require.True(t, ev.Contact.Callback, "the desk shows it as a callback")
				seen[ev.TrackingNo] += "offered "
			}
		}
		require.Equal(t, map[string]string{
			talking: "ended/node_lost ",
			ringing: "rescinded/node_lost callback/node_lost offered ",
			waiting: "callback/node_lost ",
		}, seen)

		// Node B comes back from a partition and reports its old calls
		// hung up: nothing changes, the callbacks stay.
		for _, tn := range []string{talking, ringing, waiting} {
			res, err := b.Hangup(e.ctx, tn, "caller")
			require.NoError(t, err)
			require.Equal(t, "already", res.Outcome, tn)
		}
		e.requireWaiting(waiting)
		require.True(t, e.contact(waiting).Callback)

		// The next free agent takes the callback before the later caller.
		require.NoError(t, a.End(e.ctx, "1001", talking))
		require.NoError(t, a.WrapUp(e.ctx, "1001", talking, queue.RequestConsultation, queue.OutcomeResolved, ""))
		e.requireOffered(waiting, "1001")
		e.requireWaiting(onA)
	})
}

func TestADrainingNodeKeepsItsCallsUntilItDies(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		a, b := e.q, e.node("node-b")
		tn := e.call(b, "general", "+8613800000001")
		require.NoError(t, a.Heartbeat(e.ctx))
		require.NoError(t, b.Heartbeat(e.ctx))
		require.NoError(t, b.Leave(e.ctx)) // SIGTERM: calls in progress go on
		e.clock.Add(3 * time.Second)
		require.NoError(t, a.Heartbeat(e.ctx))
		require.NoError(t, b.Heartbeat(e.ctx))
		require.NoError(t, a.AgeHeartbeat(e.ctx, "node-b", 3*time.Second))
		require.Zero(t, e.sweep().DeadNodes)
		c := e.contact(tn)
		require.Equal(t, "node-b", c.Node)
		require.False(t, c.Callback)

		// It dies before its callers are done: they are not forgotten.
		e.clock.Add(6 * time.Second)
		require.NoError(t, a.AgeHeartbeat(e.ctx, "node-b", 6*time.Second))
		require.NoError(t, a.Heartbeat(e.ctx))
		require.Equal(t, 1, e.sweep().DeadNodes)
		require.True(t, e.contact(tn).Callback)
	})
}

func TestARestartedNodesOldCallsBecomeCallbacks(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.phoneAgent(e.q, "1001", general, voiceOnly)
		talking := e.call(e.q, "general", "+8613800000001")
		require.NoError(t, e.q.Accept(e.ctx, "1001", talking))
		waiting := e.call(e.q, "general", "+8613800000002")

		// node-a restarts at once (within NodeTTL: nobody finds it dead).
		restarted := e.node("node-a")
		n, err := restarted.RecoverCalls(e.ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, queue.StateWrapUp, e.contact(talking).State)
		c := e.contact(waiting)
		require.True(t, c.Callback)
		require.Equal(t, queue.StateWaiting, c.State)
		n, err = restarted.RecoverCalls(e.ctx)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}

// The offer of a call reaches two nodes: the one with the agent's desk
// (Event.Node, to show it) and the one holding the call (Contact.Node, to
// ring the agent's phone).
func TestCallOfferNamesTheDesksNodeAndTheCallsNode(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		b := e.node("node-b")
		e.phoneAgent(b, "1001", general, voiceOnly) // desk on node B
		pos := e.position()
		tn := e.call(e.q, "general", "+8613800000001") // answered on node A
		off := e.lastEvent(pos, isEvent(queue.EventOffered, tn))
		require.Equal(t, "node-b", off.Node)
		require.Equal(t, "node-a", off.Contact.Node)
		require.Equal(t, "call-1@trunk", off.Contact.CallID)

		require.NoError(t, b.Accept(e.ctx, "1001", tn))
		pos = e.position()
		_, err := e.q.Hangup(e.ctx, tn, "caller")
		require.NoError(t, err)
		end := e.lastEvent(pos, isEvent(queue.EventEnded, tn))
		require.Equal(t, "node-b", end.Node)
	})
}
