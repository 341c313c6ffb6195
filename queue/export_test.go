package queue

import (
	"context"
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
		q.o.NodeID, q.sweepLease().Milliseconds(), q.o.SweepBudget.Microseconds(), "1", q.escVersion()).Int64Slice()
	if err != nil {
		return false, err
	}
	return res[4] == 1, nil
}
