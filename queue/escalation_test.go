package queue_test

import (
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

func TestEscalationWidensToMoreQueues(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s, func(o *queue.Options) {
			o.Queues = []queue.Def{{Name: "general"}, {Name: "enterprise", Priority: 5},
				{Name: "labour", Escalation: []queue.Step{{After: time.Minute, To: "general"}}}}
		})
		e.agent(e.q, "1001", general, map[queue.Channel]int{queue.ChannelMailbox: 1})
		lab := e.letter("labour", "欠薪，没有劳动保障坐席在线")
		e.requireWaiting(lab)

		e.clock.Add(30 * time.Second)
		r, err := e.q.Sweep(e.ctx)
		require.NoError(t, err)
		require.Equal(t, 0, r.Escalated)
		e.requireWaiting(lab)

		e.clock.Add(31 * time.Second)
		r, err = e.q.Sweep(e.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, r.Escalated)
		e.requireOffered(lab, "1001") // a general agent takes it now
		require.Equal(t, "labour", e.contact(lab).Queue, "it stays a labour contact")

		// Rejected, it goes back to both queues; a labour agent may take it too.
		require.NoError(t, e.q.Reject(e.ctx, "1001", lab))
		e.requireWaiting(lab)
		e.agent(e.q, "1002", map[string]int{"labour": 3}, nil)
		e.requireOffered(lab, "1002")
		require.NoError(t, e.q.Accept(e.ctx, "1002", lab))

		// Taken from one queue, it is gone from the other: the general agent
		// is not offered it again.
		e.clock.Add(25 * time.Second)
		_, err = e.q.Sweep(e.ctx)
		require.NoError(t, err)
		require.Equal(t, queue.StateAssigned, e.contact(lab).State)
		stats, err := e.q.Stats(e.ctx)
		require.NoError(t, err)
		for _, st := range stats {
			require.Zero(t, st.Waiting, st.Name)
		}
	})
}

func TestEscalationToUnknownQueueIsRefused(t *testing.T) {
	_, err := queue.New(nil, queue.Options{NodeID: "n", Queues: []queue.Def{{Name: "a",
		Escalation: []queue.Step{{After: time.Second, To: "nope"}}}}})
	require.Error(t, err)
}
