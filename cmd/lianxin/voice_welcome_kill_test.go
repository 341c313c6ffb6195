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

// TestKillNodeDuringWelcome: kill -9 of a node right after it answered a
// sipp caller, while the welcome plays (the caller not queued yet): the
// call becomes a callback contact with the caller's number, in the line's
// queue, found by the surviving node. Nobody answered is forgotten.
//
// In parallel with the other tests: its nodes are processes of their own
// and nothing it checks depends on timing (the welcome lasts a minute, the
// kill comes as soon as the call is answered).
func TestKillNodeDuringWelcome(t *testing.T) {
	t.Parallel()
	siptest.RequireTools(t, "sipp")
	s := queuetest.RedisServer(t)
	dir := t.TempDir()
	pcm := siptest.SineWave(400, 60*siptest.SampleRate, 8000) // a minute of welcome
	require.NoError(t, os.WriteFile(filepath.Join(dir, "welcome-12345.wav"), siptest.EncodeWAV(pcm, siptest.SampleRate), 0o600))
	cfg := filepath.Join(dir, "lianxin.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("queue:\n  node_ttl: 2s\n  heartbeat: 500ms\nsip:\n  menus: {}\n  prompts: "+
		dir+"\n"), 0o600))
	a := startProc(t, s.URL, "node-a", cfg)
	_ = startProc(t, s.URL, "node-b", cfg)
	q, err := queue.New(s.Client(t), queue.Options{NodeID: "observer", Queues: []queue.Def{{Name: "general"}}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	run := siptest.Sipp(t, siptest.SippOptions{Scenario: "caller.xml", Target: a.sip, Service: "12345",
		Vars: map[string]string{"hold_ms": "30000", "caller": "13800138801"}})
	var tn string
	require.Eventually(t, func() bool {
		calls, err := q.Calls(ctx, "node-a")
		if err != nil || len(calls) != 1 {
			return false
		}
		tn = calls[0]
		return true
	}, time.Minute, 20*time.Millisecond, "node A answered the call")
	c, err := q.Contact(ctx, tn)
	require.NoError(t, err)
	require.Equal(t, queue.StateIVR, c.State, "killed during the welcome")
	require.NoError(t, a.cmd.Process.Kill())
	<-a.done
	_, _ = run.Stop(0)

	require.Eventually(t, func() bool {
		c, err = q.Contact(ctx, tn)
		return err == nil && c.Callback && c.State == queue.StateWaiting
	}, time.Minute, 100*time.Millisecond, "the caller becomes a callback")
	require.Equal(t, "+8613800138801", c.Citizen.Phone)
	require.Equal(t, "general", c.Queue)
	stats, err := q.CallStats(ctx)
	require.NoError(t, err)
	require.Equal(t, queue.CallCounts{Callbacks: 1}, stats["general"])
}
