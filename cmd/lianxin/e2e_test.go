package main

import (
	"net/http"
	"testing"

	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// A letter to a mailbox of the directory reaches a ready agent's desk, is
// accepted and wrapped up, and the public lookup then shows it closed.
func TestLetterToDeskEndToEnd(t *testing.T) {
	t.Parallel()
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		queuetest.Flush(t, s)
		n := startNode(t, s.URL, "node-a")
		box := mailboxFor(t, "general")
		d := desk(t, n.base, "1001")
		send(t, d, "ready", nil)
		waitState(t, d, "ready")

		tn := letter(t, n.base, box, "路灯不亮")
		offer := next(t, d, "offer")
		c := offer.Object()
		require.Equal(t, tn, c.TrackingNo)
		require.Equal(t, box, c.Line)
		require.Equal(t, "mailbox", c.Channel)
		require.Equal(t, "路灯不亮", c.Subject)
		require.False(t, offer.ExpiresAt.IsZero())

		r := do(t, http.MethodGet, n.base+"/api/contacts/"+tn+"?phone_last4=8000", "", nil)
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, "offered", r.Body["state"])

		send(t, d, "accept", map[string]any{"contact": tn})
		require.Equal(t, tn, next(t, d, "assigned").Object().TrackingNo)
		send(t, d, "wrapup", map[string]any{"contact": tn, "request_type": "help", "outcome": "dispatched",
			"note": "转区城管局"})
		closed := next(t, d, "closed")
		require.Equal(t, tn, closed.TrackingNo())
		require.Equal(t, "dispatched", closed.Outcome)

		r = do(t, http.MethodGet, n.base+"/api/contacts/"+tn+"?phone_last4=8000", "", nil)
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, "closed", r.Body["state"])
		require.Equal(t, "dispatched", r.Body["outcome"])
		require.Equal(t, "help", r.Body["request_type"])
		require.NotContains(t, r.Body, "agent", "no agent's data in the public lookup")
		require.NotContains(t, r.Body, "citizen")
		require.NotContains(t, r.Body, "note")

		// The same citizen writes again: the desk sees the earlier letter.
		tn2 := letter(t, n.base, box, "路灯还是不亮")
		o2 := next(t, d, "offer").Object()
		require.Equal(t, tn2, o2.TrackingNo)
		require.Len(t, o2.History, 1)
		require.Equal(t, tn, o2.History[0].TrackingNo)
	})
}

// Two nodes share one real redis-server: a letter posted to node A reaches
// an agent whose desk is on node B.
func TestTwoNodesOneRedis(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	a := startNode(t, s.URL, "node-a")
	b := startNode(t, s.URL, "node-b")
	d := desk(t, b.base, "1002")
	send(t, d, "ready", nil)
	box := mailboxFor(t, "general")
	tn := letter(t, a.base, box, "经A节点投递")
	m := next(t, d, "offer")
	require.Equal(t, tn, m.Object().TrackingNo)

	// And the queue picture is the same from either node.
	tok := loginToken(t, a.base, "1005") // a supervisor
	r := do(t, http.MethodGet, a.base+"/api/queues", "", nil, "Authorization", "Bearer "+tok)
	require.Equal(t, http.StatusOK, r.Status)
	require.NotEmpty(t, r.Body["queues"])
}
