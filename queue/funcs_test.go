package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// commandCalls is INFO commandstats' count of calls of cmd ("fcall",
// "function|load").
func commandCalls(t *testing.T, rdb *redis.Client, cmd string) int {
	t.Helper()
	return int(newMeter(t, rdb).read()[cmd].calls)
}

// scriptsCell is a queue on s and a letter with subject to enqueue there.
func scriptsCell(t *testing.T, s *queuetest.Server, subject string) (*redis.Client, *queue.Queue, queue.Intake) {
	t.Helper()
	rdb := s.Client(t)
	q, err := queue.New(rdb, queue.Options{NodeID: "node-a", Queues: testQueues})
	require.NoError(t, err)
	return rdb, q, queue.Intake{Channel: queue.ChannelMailbox, Line: "l", Queue: "general", Subject: subject,
		Citizen: queue.Citizen{Address: "a@example.cn"}}
}

// lianxinLibraries lists the libraries of Lianxin's functions Redis holds.
func lianxinLibraries(t *testing.T, rdb *redis.Client) []string {
	t.Helper()
	libs, err := rdb.FunctionList(context.Background(), redis.FunctionListQuery{LibraryNamePattern: "lianxin_*"}).Result()
	require.NoError(t, err)
	var names []string
	for _, l := range libs {
		names = append(names, l.Name)
	}
	return names
}

// TestScriptsRunAsFunctions: on a Redis with Functions the queue's scripts
// run as the functions of one library, loaded when Redis does not have it
// (at first, and again after FUNCTION FLUSH); a node with other options
// has a library of its own beside it, so neither replaces the other's.
func TestScriptsRunAsFunctions(t *testing.T) {
	rdb, q, in := scriptsCell(t, queuetest.RedisServer(t), "函数")
	ctx := context.Background()
	first, err := q.Enqueue(ctx, in, "")
	require.NoError(t, err)
	libs := lianxinLibraries(t, rdb)
	require.Len(t, libs, 1)
	require.Equal(t, 1, commandCalls(t, rdb, "function|load"))
	require.Zero(t, commandCalls(t, rdb, "evalsha")+commandCalls(t, rdb, "eval"), "scripts ran as scripts")
	calls := commandCalls(t, rdb, "fcall")
	require.Equal(t, 2, calls, "the enqueue's call, failed for want of the library, and again")

	// Every script's work is done by its function: a contact's lifecycle.
	sess, err := q.Connect(ctx, queue.Profile{ID: "1001", Skills: map[string]int{"general": 5},
		Capacity: map[queue.Channel]int{queue.ChannelMailbox: 1}})
	require.NoError(t, err)
	require.NoError(t, q.SetPresence(ctx, "1001", sess.ID, queue.PresenceReady, ""))
	require.NoError(t, q.Accept(ctx, "1001", first.TrackingNo))
	require.NoError(t, q.WrapUp(ctx, "1001", first.TrackingNo, queue.RequestConsultation, queue.OutcomeResolved, ""))
	c, err := q.Contact(ctx, first.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, queue.StateClosed, c.State)
	require.Greater(t, commandCalls(t, rdb, "fcall"), calls+3)
	require.Zero(t, commandCalls(t, rdb, "evalsha")+commandCalls(t, rdb, "eval"), "scripts ran as scripts")

	// Redis lost its functions: the next call loads the library again.
	require.NoError(t, rdb.FunctionFlush(ctx).Err())
	second, err := q.Enqueue(ctx, in, "")
	require.NoError(t, err)
	require.NotEqual(t, first.TrackingNo, second.TrackingNo)
	require.Equal(t, libs, lianxinLibraries(t, rdb))
	require.Equal(t, 2, commandCalls(t, rdb, "function|load"))

	// A node with other options (a longer offer) has its own library; the
	// two nodes' calls, taken in turns, load nothing more.
	other, err := queue.New(rdb, queue.Options{NodeID: "node-b", Queues: testQueues, OfferTimeout: time.Minute})
	require.NoError(t, err)
	_, err = other.Enqueue(ctx, in, "")
	require.NoError(t, err)
	require.Len(t, lianxinLibraries(t, rdb), 2)
	for range 3 {
		_, err = q.Enqueue(ctx, in, "")
		require.NoError(t, err)
		_, err = other.Enqueue(ctx, in, "")
		require.NoError(t, err)
	}
	require.Equal(t, 3, commandCalls(t, rdb, "function|load"))
}

// TestScriptsRunAsScriptsWithoutFunctions: the embedded store has no
// Functions (no FCALL): every call is a script, and works.
func TestScriptsRunAsScriptsWithoutFunctions(t *testing.T) {
	rdb, q, in := scriptsCell(t, queuetest.Miniredis(t), "脚本")
	ctx := context.Background()
	for range 2 {
		r, err := q.Enqueue(ctx, in, "")
		require.NoError(t, err)
		c, err := q.Contact(ctx, r.TrackingNo)
		require.NoError(t, err)
		require.Equal(t, "脚本", c.Subject)
	}
	require.Error(t, rdb.Do(ctx, "FCALL", "x", 0).Err(), "the embedded store has Functions now: test them there")
}

// TestTidyDropsLibrariesNoLiveNodeUses: after an upgrade the old version's
// library stays in Redis until Tidy finds that no live node uses it (each
// heartbeat names its node's library); the live nodes' libraries and
// another deployment's stay. A node whose library went anyway loads it
// again with its next call.
func TestTidyDropsLibrariesNoLiveNodeUses(t *testing.T) {
	rdb, a, in := scriptsCell(t, queuetest.RedisServer(t), "升级")
	ctx := context.Background()
	node := func(id string, o queue.Options) *queue.Queue {
		o.NodeID, o.Queues = id, testQueues
		q, err := queue.New(rdb, o)
		require.NoError(t, err)
		_, err = q.Enqueue(ctx, in, "") // loads its library
		require.NoError(t, err)
		return q
	}
	b := node("node-b", queue.Options{OfferTimeout: time.Minute})         // another option: its own library
	old := node("node-old", queue.Options{OfferTimeout: 2 * time.Minute}) // an old version's
	other := node("node-x", queue.Options{Tag: "other"})                  // another deployment's
	require.NoError(t, other.Heartbeat(ctx))
	_, err := a.Enqueue(ctx, in, "")
	require.NoError(t, err)
	require.Len(t, lianxinLibraries(t, rdb), 4)
	require.NoError(t, a.Heartbeat(ctx))
	require.NoError(t, b.Heartbeat(ctx))
	require.NoError(t, old.Heartbeat(ctx))

	r, err := a.Tidy(ctx)
	require.NoError(t, err)
	require.Zero(t, r.Libraries, "every node that loaded a library is alive")
	require.Len(t, lianxinLibraries(t, rdb), 4)

	// The old version's node is gone (its desks left, it stopped).
	require.NoError(t, old.Leave(ctx))
	r, err = a.Tidy(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, r.Libraries)
	libs := lianxinLibraries(t, rdb)
	require.Len(t, libs, 3)
	r, err = b.Tidy(ctx)
	require.NoError(t, err)
	require.Zero(t, r.Libraries)

	// It comes back (a node started again with the old version): its next
	// call loads its library again.
	loads := commandCalls(t, rdb, "function|load")
	_, err = old.Enqueue(ctx, in, "")
	require.NoError(t, err)
	require.Equal(t, loads+1, commandCalls(t, rdb, "function|load"))
	require.Len(t, lianxinLibraries(t, rdb), 4)
}

// commandFailed is INFO commandstats' count of failed calls of cmd.
func commandFailed(t *testing.T, rdb *redis.Client, cmd string) int {
	t.Helper()
	return int(newMeter(t, rdb).read()[cmd].failed)
}

// TestLibraryLoadedOnceWhenCallsFailTogether: Redis lost the library (a
// restart, FUNCTION FLUSH) under many calls at once: one of them loads it,
// the others only call again. A node that finds the library loaded by
// another meanwhile does not load (compile) it again: a REPLACE would hold
// Redis 3–6 ms a time.
func TestLibraryLoadedOnceWhenCallsFailTogether(t *testing.T) {
	rdb, q, in := scriptsCell(t, queuetest.RedisServer(t), "一次")
	ctx := context.Background()
	_, err := q.Enqueue(ctx, in, "")
	require.NoError(t, err)
	require.Equal(t, 1, commandCalls(t, rdb, "function|load"))

	require.NoError(t, rdb.FunctionFlush(ctx).Err())
	const calls = 32
	start := make(chan struct{})
	errs := make(chan error, calls)
	for range calls {
		go func() {
			<-start
			_, err := q.Enqueue(ctx, in, "")
			errs <- err
		}()
	}
	fcalls := commandCalls(t, rdb, "fcall")
	// Redis holds every call for a moment, then serves them together: they
	// all fail before the first load.
	require.NoError(t, rdb.Do(ctx, "CLIENT", "PAUSE", 300, "ALL").Err())
	close(start)
	for range calls {
		require.NoError(t, <-errs)
	}
	require.Equal(t, 2, commandCalls(t, rdb, "function|load"), "one load for all the calls that failed together")
	require.Greater(t, commandCalls(t, rdb, "fcall"), fcalls+calls, "no call failed for want of the library")

	// Another node of the same version meets the missing library after the
	// first loaded it: it loads without REPLACE, Redis refuses (the library
	// exists) and the call is made again.
	other, err := queue.New(rdb, queue.Options{NodeID: "node-b", Queues: testQueues})
	require.NoError(t, err)
	again, err := other.FunctionMissing(ctx)
	require.NoError(t, err)
	require.True(t, again)
	require.Equal(t, 3, commandCalls(t, rdb, "function|load"))
	require.Equal(t, 1, commandFailed(t, rdb, "function|load"), "the library exists: not loaded again")
	_, err = other.Enqueue(ctx, in, "")
	require.NoError(t, err)
	require.Equal(t, 3, commandCalls(t, rdb, "function|load"))
}

// TestTidyKeepsALibraryNoNodeNamedForAGrace: a client that runs the scripts
// without a heartbeat (the load tool's enqueuers) keeps its library while
// nodes tidy, for a while after its last load; then it goes, and the
// client's next call loads it again.
func TestTidyKeepsALibraryNoNodeNamedForAGrace(t *testing.T) {
	rdb, a, in := scriptsCell(t, queuetest.RedisServer(t), "宽限")
	ctx := context.Background()
	_, err := a.Enqueue(ctx, in, "")
	require.NoError(t, err)
	require.NoError(t, a.Heartbeat(ctx))
	client, err := queue.New(rdb, queue.Options{NodeID: "load-enqueuer", Queues: testQueues, OfferTimeout: time.Hour})
	require.NoError(t, err)
	_, err = client.Enqueue(ctx, in, "")
	require.NoError(t, err)
	require.Len(t, lianxinLibraries(t, rdb), 2)

	for range 3 {
		r, err := a.Tidy(ctx)
		require.NoError(t, err)
		require.Zero(t, r.Libraries, "a library loaded a moment ago")
	}
	loads := commandCalls(t, rdb, "function|load")
	_, err = client.Enqueue(ctx, in, "")
	require.NoError(t, err)
	require.Equal(t, loads, commandCalls(t, rdb, "function|load"))

	require.NoError(t, client.AgeLibraryLoad(ctx, 10*time.Minute+time.Second))
	r, err := a.Tidy(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, r.Libraries, "no use of it noted for the grace")
	require.Len(t, lianxinLibraries(t, rdb), 1)
	_, err = client.Enqueue(ctx, in, "")
	require.NoError(t, err)
	require.Equal(t, loads+1, commandCalls(t, rdb, "function|load"))
	require.Len(t, lianxinLibraries(t, rdb), 2)
}
