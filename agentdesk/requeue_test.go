package agentdesk

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
)

// TestDeskRequeued: a call in talk whose browser phone lost it goes back to its queue (queue.Requeue): the agent's
// desk gets `requeued` with the contact and the reason, then its state not ready with that reason; the contact is no
// longer the agent's (an `end` of it is refused, nothing changed), and it waits again.
func TestDeskRequeued(t *testing.T) {
	e := startDesk(t, func(p *Params) {
		for i := range p.Agents {
			p.Agents[i].Capacity = map[queue.Channel]int{queue.ChannelVoice: 1, queue.ChannelWeb: 3}
		}
	})
	ctx := context.Background()
	a := e.seat(t, "1001")
	require.NoError(t, e.q.SetPhone(ctx, "1001", time.Now().Add(time.Hour)))
	r, err := e.q.EnqueueCall(ctx, queue.Intake{Line: "12345", Queue: "general",
		Citizen: queue.Citizen{Address: "+8613800138000", Phone: "+8613800138000"}}, queue.Call{ID: "rq-1@trunk", Node: "node-a"})
	require.NoError(t, err)
	tn := r.TrackingNo
	require.Equal(t, tn, next(t, a, "offer").TrackingNo())
	require.NoError(t, e.q.Accept(ctx, "1001", tn)) // the phone answered
	next(t, a, "assigned")

	require.NoError(t, e.q.Requeue(ctx, "1001", tn, queue.RequeueMediaLost))
	m := next(t, a, "requeued")
	require.Equal(t, tn, m.TrackingNo())
	require.Equal(t, queue.RequeueMediaLost, m.Reason)
	st := next(t, a, "state")
	for st.State != "not_ready" {
		st = next(t, a, "state")
	}
	require.Equal(t, queue.RequeueMediaLost, st.Reason)

	_, err = a.Send("end", map[string]any{"contact": tn})
	require.NoError(t, err)
	bad := next(t, a, "error")
	require.Equal(t, "not_yours", bad.Code)
	c, err := e.q.Contact(ctx, tn)
	require.NoError(t, err)
	require.Equal(t, queue.StateWaiting, c.State)
	require.Empty(t, c.Agent)
}
