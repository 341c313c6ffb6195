package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// TestKillNodeHoldingCallers: kill -9 of the node holding waiting callers
// turns them into callback contacts at their old place — ahead of a caller
// who dialled the surviving node later — and nobody who called is forgotten.
func TestKillNodeHoldingCallers(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	cfg := filepath.Join(t.TempDir(), "lianxin.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("queue:\n  node_ttl: 2s\n  heartbeat: 500ms\nsip:\n  menus: {}\n"), 0o600))
	a := startProc(t, s.URL, "node-a", cfg)
	b := startProc(t, s.URL, "node-b", cfg)
	q, err := queue.New(s.Client(t), queue.Options{NodeID: "observer", Queues: []queue.Def{{Name: "general"}}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Two callers wait on node A (no agent is ready), in this order.
	var tns []string
	var lost []*siptest.GoCall
	for _, from := range []string{"13800138501", "13800138502"} {
		call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: a.sip, Number: "12345", From: from})
		require.NoError(t, err)
		lost = append(lost, call)
		require.Eventually(t, func() bool {
			calls, err := q.Calls(ctx, "node-a")
			return err == nil && len(calls) == len(tns)+1
		}, time.Minute, 50*time.Millisecond, "the call is queued on node A")
		calls, _ := q.Calls(ctx, "node-a")
		for _, tn := range calls {
			if len(tns) == 0 || tns[0] != tn {
				tns = append(tns, tn)
				break
			}
		}
	}
	require.NoError(t, a.cmd.Process.Kill())
	<-a.done
	for _, c := range lost {
		c.Lost()
	}

	for _, tn := range tns {
		require.Eventually(t, func() bool {
			c, err := q.Contact(ctx, tn)
			return err == nil && c.Callback && c.State == queue.StateWaiting
		}, time.Minute, 100*time.Millisecond, "caller %s becomes a callback", tn)
	}
	// A caller who dials node B now waits behind them.
	_, err = siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: b.sip, Number: "12345", From: "13800138503"})
	require.NoError(t, err)
	var later string
	require.Eventually(t, func() bool {
		calls, err := q.Calls(ctx, "node-b")
		if err != nil || len(calls) != 1 {
			return false
		}
		later = calls[0]
		pos, err := q.Position(ctx, later) // a contact from the answer, queued after the welcome
		return err == nil && pos > 0
	}, time.Minute, 50*time.Millisecond)
	first, err := q.Position(ctx, tns[0])
	require.NoError(t, err)
	second, err := q.Position(ctx, tns[1])
	require.NoError(t, err)
	third, err := q.Position(ctx, later)
	require.NoError(t, err)
	require.True(t, first < second && second < third, "old places kept: %d %d, the later caller %d", first, second, third)
}
