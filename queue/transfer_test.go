package queue_test

import (
	"errors"
	"testing"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestTransferCallToAQueueKeepsItsAgeAndRaisesItsPriority: an agent
// transfers a call in talk to another queue with a note; the agent is free
// at once, the call waits there ahead of a caller who came later, with a
// raised priority, the note and who sent it, and its call counted as
// waiting in the new queue; the next agent of that queue is offered it.
func TestTransferCallToAQueueKeepsItsAgeAndRaisesItsPriority(t *testing.T) {
	e := newEnv(t, queuetest.RedisServer(t))
	both := map[string]int{"general": 3, "labour": 3}
	e.phoneAgent(e.q, "a1", both, voiceOnly)
	tn := e.call(e.q, "general", "+8613800138000")
	e.requireOffered(tn, "a1")
	require.NoError(e.t, e.q.Accept(e.ctx, "a1", tn))
	later := e.call(e.q, "labour", "+8613900139000") // waits: a1 is busy
	e.requireWaiting(later)
	pos := e.position()

	require.NoError(t, e.q.Transfer(e.ctx, "a1", tn, queue.TransferTo{Queue: "labour", Note: "欠薪，转劳动保障", Boost: 2}))
	c := e.contact(tn)
	// a1 is free and is offered the later call, not the one it handed on.
	e.requireOffered(later, "a1")
	require.Equal(t, queue.StateWaiting, c.State)
	require.Equal(t, "labour", c.Queue)
	require.Equal(t, 2, c.Priority)
	require.Equal(t, "欠薪，转劳动保障", c.TransferNote)
	require.Equal(t, "a1", c.TransferredBy)
	require.Equal(t, queue.CallCounts{Waiting: 1, Ringing: 1}, e.callStats("labour"))
	require.Equal(t, queue.CallCounts{Answered: 1}, e.callStats("general"))
	ev := e.lastEvent(pos, isEvent(queue.EventTransferred, tn))
	require.Equal(t, "a1", ev.Agent)
	require.NotNil(t, ev.Status, "the transferring agent's new state rides along")

	// A caller who comes now waits behind it; the next agent gets the
	// transferred call first.
	third := e.call(e.q, "labour", "+8613700137000")
	e.phoneAgent(e.q, "a2", both, voiceOnly)
	e.requireOffered(tn, "a2")
	e.requireWaiting(third)
	require.NoError(t, e.q.Accept(e.ctx, "a2", tn))
	require.Equal(t, queue.StateAssigned, e.contact(tn).State)
}

// TestTransferToANamedAgentComesBackOnAMiss: a transfer to a named agent
// offers it to that agent at once; a miss sends it back to the
// transferring agent (BackToAgent) or leaves it in the queue.
func TestTransferToANamedAgentComesBackOnAMiss(t *testing.T) {
	e := newEnv(t, queuetest.RedisServer(t))
	mail := map[queue.Channel]int{queue.ChannelMailbox: 1}
	s1 := e.agent(e.q, "a1", general, mail)
	tn := e.letter("general", "来信")
	require.NoError(t, e.q.Accept(e.ctx, "a1", tn))
	e.agent(e.q, "a2", general, mail)

	require.NoError(t, e.q.Transfer(e.ctx, "a1", tn, queue.TransferTo{Agent: "a2", Note: "请回电", BackToAgent: true}))
	e.requireOffered(tn, "a2")
	require.NoError(t, e.q.Reject(e.ctx, "a2", tn))
	e.requireOffered(tn, "a1") // back to the agent who transferred it
	require.NoError(t, e.q.Accept(e.ctx, "a1", tn))

	// Without BackToAgent, a miss leaves it in the queue.
	require.NoError(t, e.q.Transfer(e.ctx, "a1", tn, queue.TransferTo{Agent: "a2"}))
	e.requireOffered(tn, "a2")
	require.NoError(t, e.q.SetPresence(e.ctx, "a1", s1.ID, queue.PresenceNotReady, "break"))
	require.NoError(t, e.q.Reject(e.ctx, "a2", tn))
	e.requireWaiting(tn)
	require.Equal(t, "general", e.contact(tn).Queue)
}

// TestTransferRefusals: only the holder may transfer, only a contact in
// hand, to a known queue or an agent who can take it.
func TestTransferRefusals(t *testing.T) {
	e := newEnv(t, queuetest.RedisServer(t))
	mail := map[queue.Channel]int{queue.ChannelMailbox: 1}
	e.agent(e.q, "a1", general, mail)
	tn := e.letter("general", "来信")
	for _, tc := range []struct {
		agent string
		to    queue.TransferTo
		want  error
	}{
		{"a1", queue.TransferTo{Queue: "general"}, queue.ErrWrongState}, // only offered yet
		{"a9", queue.TransferTo{Queue: "general"}, queue.ErrNotYours},
		{"a1", queue.TransferTo{Queue: "nowhere"}, queue.ErrInvalid},
		{"a1", queue.TransferTo{}, queue.ErrInvalid},
		{"a1", queue.TransferTo{Queue: "general", Agent: "a2"}, queue.ErrInvalid},
	} {
		err := e.q.Transfer(e.ctx, tc.agent, tn, tc.to)
		require.True(t, errors.Is(err, tc.want), "%+v: %v", tc, err)
	}
	require.NoError(t, e.q.Accept(e.ctx, "a1", tn))
	err := e.q.Transfer(e.ctx, "a1", tn, queue.TransferTo{Agent: "a2"}) // a2 is not logged in
	require.ErrorIs(t, err, queue.ErrNotFound)
	s2 := e.agent(e.q, "a2", general, mail)
	require.NoError(t, e.q.SetPresence(e.ctx, "a2", s2.ID, queue.PresenceNotReady, "lunch"))
	err = e.q.Transfer(e.ctx, "a1", tn, queue.TransferTo{Agent: "a2"})
	require.ErrorIs(t, err, queue.ErrWrongState)
	require.Equal(t, queue.StateAssigned, e.contact(tn).State, "a refused transfer changes nothing")
}

// TestMarkTransferOnce: a contact is marked for a push to an emergency line
// once; its status shows on the contact.
func TestMarkTransferOnce(t *testing.T) {
	e := newEnv(t, queuetest.RedisServer(t))
	tn := e.letter("general", "来信")
	first, err := e.q.MarkTransfer(e.ctx, tn, "110", "")
	require.NoError(t, err)
	require.True(t, first)
	first, err = e.q.MarkTransfer(e.ctx, tn, "110", "")
	require.NoError(t, err)
	require.False(t, first, "a retry does not push twice")
	require.Equal(t, &queue.TransferInfo{To: "110", Status: queue.TransferPending}, e.contact(tn).Transfer)
	require.NoError(t, e.q.SetTransferStatus(e.ctx, tn, queue.TransferDelivered, 2, ""))
	require.Equal(t, &queue.TransferInfo{To: "110", Status: queue.TransferDelivered, Tries: 2}, e.contact(tn).Transfer)
	_, err = e.q.MarkTransfer(e.ctx, "260101000000019", "110", "")
	require.ErrorIs(t, err, queue.ErrNotFound)
}

// TestCallbackKeepsTheCallersPlace: a waiting caller asks for a callback:
// the contact stays at its place ahead of a later caller, as a callback
// with the number given, and is no longer a live call; the caller's
// hang-up afterwards changes nothing; the next agent is offered it first.
func TestCallbackKeepsTheCallersPlace(t *testing.T) {
	e := newEnv(t, queuetest.RedisServer(t))
	tn := e.call(e.q, "general", "+8613800138000")
	later := e.call(e.q, "general", "+8613900139000")
	pos := e.position()
	require.NoError(t, e.q.RequestCallback(e.ctx, tn, "+8613700137000"))
	c := e.contact(tn)
	require.True(t, c.Callback)
	require.Equal(t, "+8613700137000", c.CallbackPhone)
	require.Equal(t, queue.StateWaiting, c.State)
	require.Empty(t, c.Node, "no node holds the call now")
	ev := e.lastEvent(pos, isEvent(queue.EventCallback, tn))
	require.Equal(t, "requested", ev.Reason)
	res, err := e.q.Hangup(e.ctx, tn, "caller")
	require.NoError(t, err)
	require.Equal(t, "already", res.Outcome, "the caller's hang-up does not abandon a callback")
	require.NoError(t, e.q.RequestCallback(e.ctx, tn, "+8613600136000"), "asked again: only the number changes")
	require.Equal(t, "+8613600136000", e.contact(tn).CallbackPhone)
	require.Equal(t, queue.CallCounts{Waiting: 1, Callbacks: 1}, e.callStats("general"))

	e.phoneAgent(e.q, "a1", general, voiceOnly)
	e.requireOffered(tn, "a1")
	e.requireWaiting(later)
	err = e.q.RequestCallback(e.ctx, "260101000000019", "+8613600136000")
	require.ErrorIs(t, err, queue.ErrNotFound)
}

// TestCallbackParkedAndFailed: a callback the citizen did not answer is
// parked (out of the queue, the agent free), comes back at its old place
// ahead of a later caller, and closes callback_failed when given up.
func TestCallbackParkedAndFailed(t *testing.T) {
	e := newEnv(t, queuetest.RedisServer(t))
	tn := e.call(e.q, "general", "+8613800138000")
	require.NoError(t, e.q.RequestCallback(e.ctx, tn, "+8613800138000"))
	e.phoneAgent(e.q, "a1", general, voiceOnly)
	e.requireOffered(tn, "a1")
	require.NoError(t, e.q.Accept(e.ctx, "a1", tn))
	n, err := e.q.ParkCallback(e.ctx, "a1", tn, "回拨未接通", true)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	later := e.call(e.q, "general", "+8613900139000")
	e.requireOffered(later, "a1") // a1 is free; the parked callback waits out of the queue
	c := e.contact(tn)
	require.Equal(t, queue.StateWaiting, c.State)
	require.Equal(t, 1, c.CallbackTries)
	pos, err := e.q.Position(e.ctx, tn)
	require.NoError(t, err)
	require.Zero(t, pos, "parked: in no queue")
	third := e.call(e.q, "general", "+8613700137000")
	require.NoError(t, e.q.UnparkCallback(e.ctx, tn))
	require.NoError(t, e.q.UnparkCallback(e.ctx, tn), "harmless twice")
	pos, err = e.q.Position(e.ctx, tn)
	require.NoError(t, err)
	require.Equal(t, 1, pos, "back at its old place, ahead of the later caller")
	require.NoError(t, e.q.Reject(e.ctx, "a1", later))
	e.requireOffered(tn, "a1") // the callback first, the later callers after
	e.requireWaiting(third)
	require.NoError(t, e.q.Accept(e.ctx, "a1", tn))
	require.NoError(t, e.q.FailCallback(e.ctx, "a1", tn, "回拨三次未接通"))
	c = e.contact(tn)
	require.Equal(t, queue.StateClosed, c.State)
	require.Equal(t, queue.OutcomeCallbackFailed, c.Outcome)
	require.Equal(t, 2, c.CallbackTries)
}
