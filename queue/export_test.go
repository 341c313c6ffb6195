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
