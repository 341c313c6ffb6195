package agentdesk

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// BenchmarkWallboardPush is one wallboard push with 2,000 agents, each
// holding two contacts, and 1,000 contacts waiting: the board's snapshot
// and its JSON.
func BenchmarkWallboardPush(b *testing.B) {
	agents := map[string]Agent{}
	for i := range 2000 {
		id := fmt.Sprint(100000 + i)
		agents[id] = Agent{Profile: queue.Profile{ID: id, Name: fmt.Sprintf("坐席%d", i)}}
	}
	bd := newBoard(map[string]string{"general": "综合受理"}, []string{"general"}, agents, zap.NewNop())
	bd.ready = true
	now := time.Now()
	for id, a := range bd.agents {
		a.status = queue.AgentStatus{State: queue.AgentBusy, Since: now}
		for j := range 2 {
			bd.open[id+fmt.Sprint(j)] = &boardContact{queue: "general", ch: queue.ChannelMailbox, state: queue.StateAssigned,
				agent: id, queuedAt: now.UnixMilli(), assignedAt: now.UnixMilli(), today: true}
		}
	}
	for i := range 1000 {
		bd.open[fmt.Sprint("w", i)] = &boardContact{queue: "general", ch: queue.ChannelVoice, state: queue.StateWaiting,
			queuedAt: now.UnixMilli(), today: true}
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		out, err := json.Marshal(bd.snapshot(now))
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.ReportMetric(float64(n), "bytes/push")
}
