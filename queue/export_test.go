package queue

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"time"
)

// AgeHeartbeat makes node's last heartbeat d older, as if Redis had not
// heard from it for d: liveness is judged by Redis's clock, which a test
// cannot move, so a test ages the heartbeat instead.
func (q *Queue) AgeHeartbeat(ctx context.Context, node string, d time.Duration) error {
	return q.rdb.ZIncrBy(ctx, q.key("nodes"), -float64(d.Milliseconds()), node).Err()
}

// SweepCall runs one sweep script call, as a sweep that stops after it (a
// node dying mid-sweep); it says whether work was left.
func (q *Queue) SweepCall(ctx context.Context) (bool, error) {
	res, err := q.run(ctx, q.s.sweep, q.nowMs(), q.o.NodeTTL.Milliseconds(), q.names, q.liveGap().Milliseconds(),
		q.o.NodeID, q.sweepLease().Milliseconds(), q.o.SweepBudget.Microseconds(), "1", q.escVersion(), 0).Int64Slice()
	if err != nil {
		return false, err
	}
	return res[4] == 1, nil
}

// ScriptNames maps the sha1 of every script this queue runs (its options
// are part of the scripts' text), and the name of each one's function, to
// the script's name, so a test can say which script a SLOWLOG entry
// (EVALSHA <sha> … or FCALL <function> …) was.
func (q *Queue) ScriptNames() map[string]string {
	out := map[string]string{}
	hs, err := newScriptHeads(q.o)
	if err != nil {
		return out
	}
	entries, _ := luaFS.ReadDir("lua")
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".lua")
		if name == "common" || name == "sweeplib" {
			continue
		}
		src, err := hs.source(name)
		if err != nil {
			continue
		}
		h := sha1.Sum([]byte(src))
		out[hex.EncodeToString(h[:])] = name
	}
	for _, fn := range q.fn.of {
		out[fn] = fn[len("lx_")+16+1:] // lx_<hash>_<script>
	}
	return out
}

// SetEventsPace sets how long SubscribeFrom's reader waits after a read
// that was not full; before the first subscriber.
func (q *Queue) SetEventsPace(d time.Duration) { q.eventsPace = d }

// FedAt records, as the node's feed does, an event of stream id handed on
// at now.
func (q *Queue) FedAt(id string, now time.Time) { q.m.fed(id, now) }

// AgeLibraryLoad makes the note of this queue's library's last load d
// older (see dropOldLibraries).
func (q *Queue) AgeLibraryLoad(ctx context.Context, d time.Duration) error {
	return q.rdb.HIncrBy(ctx, q.fn.loadedKey, q.fn.name, -d.Milliseconds()).Err()
}

// FunctionMissing takes the way of a call of this queue's that Redis
// refused for want of its library, begun after this process's last load of
// it, and says whether the call is to be made again.
func (q *Queue) FunctionMissing(ctx context.Context) (bool, error) {
	gen := q.fn.loads.Load()
	cmd := q.rdb.FCall(ctx, "lianxin_no_such_function", q.keys) // Redis's own "Function not found"
	if q.fn.again(ctx, q.rdb, cmd, gen) {
		return true, nil
	}
	return false, cmd.Err()
}

// RepeatCalls makes every once script's call carry the call id id (after the
// node's name), as go-redis's second send of one call does ("" again: a new
// id per call).
func (q *Queue) RepeatCalls(id string) { q.repeatID = id }

// CallsSending says whether a batch of script calls is in flight and none
// waits for the next.
func (q *Queue) CallsSending() bool {
	q.calls.mu.Lock()
	defer q.calls.mu.Unlock()
	return q.calls.busy && len(q.calls.pending) == 0
}
