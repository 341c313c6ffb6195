package queue_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// admitQueues are a queue src with the given escalation steps (to e1, e2,
// e3) and those three.
func admitQueues(steps ...queue.Step) []queue.Def {
	return []queue.Def{{Name: "e1"}, {Name: "e2"}, {Name: "e3"}, {Name: "src", Escalation: steps}}
}

func zcard(t *testing.T, rdb *redis.Client, key string) int64 {
	t.Helper()
	n, err := rdb.ZCard(context.Background(), "{lianxin}:"+key).Result()
	require.NoError(t, err)
	return n
}

// 20,000 contacts wait in a queue without escalation steps; the node
// restarts with three. The first sweep places every one of them in the
// escalation set (an admission pass) and escalates the step already
// overdue; the later steps come on time (none before it is due, all once
// the sweep after it ran). Redis's own statistics show no call holding it
// long.
func TestSweepEscalatesContactsWaitingBeforeTheSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 contacts")
	}
	s := queuetest.RedisServer(t)
	rt := s.RealTime(t)
	rdb := s.Client(t)
	ctx := context.Background()
	const n = 20_000
	clk := newClock()
	opts := func(steps ...queue.Step) queue.Options {
		return queue.Options{NodeID: "node-a", Queues: admitQueues(steps...), Now: clk.Now, EventsMaxLen: 200_000}
	}
	old, err := queue.New(rdb, opts())
	require.NoError(t, err)
	t0 := clk.Now()
	for wave := range 10 {
		enqueueMany(t, old, "src", n/10, wave*n/10)
		clk.Add(time.Second)
	}
	r, err := old.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, r.Escalated)
	require.Zero(t, zcard(t, rdb, "esc"))

	// Restarted with steps, 40 s after the first wave: the first step (20 s)
	// is overdue for every contact.
	clk.Add(t0.Add(40 * time.Second).Sub(clk.Now()))
	steps := []queue.Step{{After: 20 * time.Second, To: "e1"}, {After: time.Minute, To: "e2"}, {After: 2 * time.Minute, To: "e3"}}
	q, err := queue.New(rdb, opts(steps...))
	require.NoError(t, err)
	nameScripts(q)
	resetScriptStats(t, rdb)
	r, err = q.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, n, r.Admitted)
	require.Equal(t, n, r.Escalated, "the overdue step, at the first sweep")
	require.EqualValues(t, n, zcard(t, rdb, "w:e1:mailbox"))
	t.Logf("admission of %d contacts and their overdue step: %d sweep calls, %s", n, r.Calls, readScriptStats(t, rdb))
	calls := r.Calls
	for i, st := range steps[1:] {
		name := st.To
		due := t0.Add(st.After)
		clk.Add(due.Add(-time.Millisecond).Sub(clk.Now()))
		r, err := q.Sweep(ctx)
		require.NoError(t, err)
		require.Zero(t, r.Escalated, "step %d before it is due", i+2)
		require.Zero(t, r.Admitted, "the pass is done")
		require.Zero(t, zcard(t, rdb, "w:"+name+":mailbox"))
		clk.Add(due.Add(4500 * time.Millisecond).Sub(clk.Now()))
		r, err = q.Sweep(ctx)
		require.NoError(t, err)
		require.Equal(t, n/2, r.Escalated, "step %d, five waves due", i+2)
		require.EqualValues(t, n/2, zcard(t, rdb, "w:"+name+":mailbox"))
		calls += r.Calls
		clk.Add(due.Add(10 * time.Second).Sub(clk.Now()))
		r, err = q.Sweep(ctx)
		require.NoError(t, err)
		require.Equal(t, n/2, r.Escalated, "step %d, all due", i+2)
		require.EqualValues(t, n, zcard(t, rdb, "w:"+name+":mailbox"))
		calls += r.Calls
	}
	require.Zero(t, zcard(t, rdb, "esc"), "every step taken")
	t.Logf("%d sweep calls in all", calls)
	requireBounded(t, readScriptStats(t, rdb), rt)
}

// A node dies in the middle of an admission pass: the pass goes on from
// where it was (its cursor is in Redis) when the node is back, and a
// restart without steps takes every contact out of the escalation set.
func TestSweepAdmissionGoesOnAfterACrash(t *testing.T) {
	s := queuetest.RedisServer(t)
	rdb := s.Client(t)
	ctx := context.Background()
	const n = 3000
	clk := newClock()
	opts := func(steps ...queue.Step) queue.Options {
		return queue.Options{NodeID: "node-a", Queues: admitQueues(steps...), Now: clk.Now}
	}
	old, err := queue.New(rdb, opts())
	require.NoError(t, err)
	enqueueMany(t, old, "src", n, 0)
	_, err = old.Sweep(ctx)
	require.NoError(t, err)

	steps := []queue.Step{{After: time.Hour, To: "e1"}}
	q, err := queue.New(rdb, opts(steps...))
	require.NoError(t, err)
	more, err := q.SweepCall(ctx)
	require.NoError(t, err)
	require.True(t, more)
	more, err = q.SweepCall(ctx)
	require.NoError(t, err)
	require.True(t, more)
	placed := zcard(t, rdb, "esc")
	require.Positive(t, placed)
	require.Less(t, placed, int64(n), "two calls place a part of them")
	cur, err := rdb.HGetAll(ctx, "{lianxin}:esc:pass").Result()
	require.NoError(t, err)
	require.NotEmpty(t, cur["m"], "the cursor is in Redis")
	t.Logf("after two calls: %d of %d placed, cursor %v", placed, n, cur)
	// The contact at the cursor leaves the queue meanwhile (as if offered):
	// the pass goes on after its place all the same.
	require.NoError(t, rdb.ZRem(ctx, "{lianxin}:wt:src", cur["m"]).Err())

	// Back again (a new process, the same steps): the pass goes on.
	q, err = queue.New(rdb, opts(steps...))
	require.NoError(t, err)
	r, err := q.Sweep(ctx)
	require.NoError(t, err)
	require.EqualValues(t, n, int64(r.Admitted)+placed, "each contact placed once after the crash")
	require.EqualValues(t, n, zcard(t, rdb, "esc"))
	ex, err := rdb.Exists(ctx, "{lianxin}:esc:pass").Result()
	require.NoError(t, err)
	require.Zero(t, ex)
	due, err := rdb.ZRangeWithScores(ctx, "{lianxin}:esc", 0, 0).Result()
	require.NoError(t, err)
	require.Equal(t, float64(clk.Now().Add(time.Hour).UnixMilli()), due[0].Score, "due an hour after it was queued")
	r, err = q.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, r.Admitted, "done: the next sweep has nothing to place")
	score, err := strconv.ParseFloat(cur["s"], 64)
	require.NoError(t, err)
	require.NoError(t, rdb.ZAdd(ctx, "{lianxin}:wt:src", redis.Z{Score: score, Member: cur["m"]}).Err()) // back

	// The step removed: every contact leaves the escalation set.
	q, err = queue.New(rdb, opts())
	require.NoError(t, err)
	r, err = q.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, n, r.Admitted)
	require.Zero(t, zcard(t, rdb, "esc"))
	clk.Add(2 * time.Hour)
	r, err = q.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, r.Escalated)
	require.Zero(t, zcard(t, rdb, "w:e1:mailbox"))
}

// During a rolling restart a node with the old steps (none) still takes
// contacts after the new steps' pass: once it is gone, another pass places
// them.
func TestSweepAdmitsContactsOfANodeWithOldSteps(t *testing.T) {
	s := queuetest.RedisServer(t)
	rdb := s.Client(t)
	ctx := context.Background()
	clk := newClock()
	steps := []queue.Step{{After: time.Minute, To: "e1"}}
	a, err := queue.New(rdb, queue.Options{NodeID: "node-a", Queues: admitQueues(steps...), Now: clk.Now})
	require.NoError(t, err)
	b, err := queue.New(rdb, queue.Options{NodeID: "node-b", Queues: admitQueues(), Now: clk.Now})
	require.NoError(t, err)
	require.NoError(t, a.Heartbeat(ctx))
	require.NoError(t, b.Heartbeat(ctx))
	_, err = a.Sweep(ctx)
	require.NoError(t, err)
	enqueueMany(t, b, "src", 100, 0)
	enqueueMany(t, a, "src", 10, 1000)
	r, err := a.Sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, r.Admitted)
	require.EqualValues(t, 10, zcard(t, rdb, "esc"), "node-b's contacts are not tracked yet")

	require.NoError(t, a.AgeHeartbeat(ctx, "node-b", 6*time.Second))
	require.NoError(t, a.Heartbeat(ctx))
	r, err = a.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, r.DeadNodes)
	require.Equal(t, 110, r.Admitted)
	require.EqualValues(t, 110, zcard(t, rdb, "esc"))
	clk.Add(time.Minute + time.Second)
	r, err = a.Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 110, r.Escalated)
	require.EqualValues(t, 110, zcard(t, rdb, "w:e1:mailbox"), "every contact escalated")
}

// A callback parked (the citizen did not answer) when the escalation steps
// change waits too: the admission pass places it in the escalation set by
// the new steps, it takes its step while parked (out of the queues, as a
// parked callback does), and when it comes back it waits in the queue it
// escalated to as well.
func TestSweepAdmitsParkedCallbacks(t *testing.T) {
	e := newEnv(t, queuetest.RedisServer(t))
	rdb := e.srv.Client(t)
	tn := e.call(e.q, "general", "+8613800138000")
	require.NoError(t, e.q.RequestCallback(e.ctx, tn, "+8613800138000"))
	sess := e.phoneAgent(e.q, "a1", general, voiceOnly)
	e.requireOffered(tn, "a1")
	require.NoError(t, e.q.Accept(e.ctx, "a1", tn))
	_, err := e.q.ParkCallback(e.ctx, "a1", tn, "回拨未接通", true)
	require.NoError(t, err)
	// a1 takes a break: nobody is offered the callback when it comes back.
	require.NoError(t, e.q.SetPresence(e.ctx, "a1", sess.ID, queue.PresenceNotReady, ""))
	e.sweep()
	require.Zero(t, zcard(t, rdb, "esc"), "no steps yet")

	// Restarted with a step general → labour after a minute.
	steps := []queue.Def{{Name: "general", Escalation: []queue.Step{{After: time.Minute, To: "labour"}}},
		{Name: "enterprise", Priority: 5}, {Name: "labour"}}
	q, err := queue.New(rdb, queue.Options{NodeID: "node-a", Queues: steps, OfferTimeout: 20 * time.Second,
		MaxMisses: 3, NodeTTL: 5 * time.Second, Now: e.clock.Now})
	require.NoError(t, err)
	r, err := q.Sweep(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, r.Admitted, "the parked callback is admitted")
	queued := e.contact(tn).QueuedAt
	due, err := rdb.ZScore(e.ctx, "{lianxin}:esc", tn).Result()
	require.NoError(t, err, "the parked callback is in the escalation set")
	require.EqualValues(t, queued.Add(time.Minute).UnixMilli(), due)

	e.clock.Add(2 * time.Minute)
	r, err = q.Sweep(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, r.Escalated, "it takes its step while parked")
	require.Zero(t, zcard(t, rdb, "w:labour:voice"), "parked: in no queue")
	require.NoError(t, q.UnparkCallback(e.ctx, tn))
	require.EqualValues(t, 1, zcard(t, rdb, "w:labour:voice"), "back: it waits in labour too")
	require.EqualValues(t, 1, zcard(t, rdb, "w:general:voice"))
}

// A callback that was with an agent when its step fell due (the sweep then
// takes it out of the escalation set: it was not waiting) and is parked
// afterwards waits again: it is tracked again, and takes the step at the
// next sweep.
func TestParkedCallbackTakesItsOverdueStep(t *testing.T) {
	e := newEnv(t, queuetest.RedisServer(t), func(o *queue.Options) {
		o.Queues = []queue.Def{{Name: "general", Escalation: []queue.Step{{After: time.Minute, To: "labour"}}},
			{Name: "enterprise", Priority: 5}, {Name: "labour"}}
	})
	rdb := e.srv.Client(t)
	tn := e.call(e.q, "general", "+8613800138000")
	require.NoError(t, e.q.RequestCallback(e.ctx, tn, "+8613800138000"))
	sess := e.phoneAgent(e.q, "a1", general, voiceOnly)
	e.requireOffered(tn, "a1")
	require.NoError(t, e.q.Accept(e.ctx, "a1", tn))
	e.clock.Add(2 * time.Minute)
	r := e.sweep()
	require.Zero(t, r.Escalated, "with the agent: no step")
	require.Zero(t, zcard(t, rdb, "esc"))
	_, err := e.q.ParkCallback(e.ctx, "a1", tn, "回拨未接通", true)
	require.NoError(t, err)
	require.NoError(t, e.q.SetPresence(e.ctx, "a1", sess.ID, queue.PresenceNotReady, ""))
	r = e.sweep()
	require.Equal(t, 1, r.Escalated, "parked, it waits again: its overdue step")
	require.NoError(t, e.q.UnparkCallback(e.ctx, tn))
	require.EqualValues(t, 1, zcard(t, rdb, "w:labour:voice"), "back: it waits in labour too")
}
