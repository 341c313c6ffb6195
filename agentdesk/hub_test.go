package agentdesk

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// A call's talk ends when a leg hangs up, on the node holding the call: the
// agent's desk, wherever it is, is told the contact now waits for wrap-up.
func TestHubTellsTheDeskATalkEnded(t *testing.T) {
	q, err := queue.New(nil, queue.Options{NodeID: "node-a", Queues: []queue.Def{{Name: "general"}}})
	require.NoError(t, err)
	s := New(Params{Queue: q})
	d := &desk{s: s, agent: Agent{Profile: queue.Profile{ID: "1001"}}, sess: "s1", log: zap.NewNop(),
		out: make(chan outbound, 8), done: make(chan struct{}), offered: map[string]time.Time{},
		history: map[string][]queue.Summary{}, seated: true}
	s.desks["1001"] = d

	s.onEvent(queue.Event{Type: queue.EventEnded, Agent: "1002", TrackingNo: "2611260000015", Reason: "caller"})
	require.Empty(t, d.out, "another agent's contact")
	s.onEvent(queue.Event{Type: queue.EventEnded, Agent: "1001", Node: "node-b", TrackingNo: "2611260000015",
		Reason: "caller"})
	require.Len(t, d.out, 1)
	b, err := json.Marshal((<-d.out).msg)
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"ended","contact":"2611260000015","reason":"caller"}`, string(b))
}
