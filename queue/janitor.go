package queue

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Run keeps this node alive in Redis and sweeps until ctx ends: a heartbeat
// every Options.Heartbeat, and every Options.Sweep a sweep that returns
// expired offers, unseats the desks of nodes silent for Options.NodeTTL, and
// matches waiting contacts with ready agents. Any number of nodes may sweep
// at once: each sweep is one script.
func (q *Queue) Run(ctx context.Context) error {
	if err := q.Heartbeat(ctx); err != nil {
		q.log.Warn("heartbeat failed", zap.Error(err))
	}
	hb := time.NewTicker(q.o.Heartbeat)
	defer hb.Stop()
	sw := time.NewTicker(q.o.Sweep)
	defer sw.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hb.C:
			if err := q.Heartbeat(ctx); err != nil && ctx.Err() == nil {
				q.log.Warn("heartbeat failed", zap.Error(err))
			}
		case <-sw.C:
			if _, err := q.Sweep(ctx); err != nil && ctx.Err() == nil {
				q.log.Warn("sweep failed", zap.Error(err))
			}
		}
	}
}

// Heartbeat says this node is alive. Liveness is judged by Redis's own
// clock, not Options.Now: the heartbeat is stamped with Redis's TIME, and a
// sweep compares it with Redis's TIME. When Redis finds it served no
// heartbeat or sweep for longer than the gap (Redis stalled, or nobody could
// reach it), every node gets a full NodeTTL of grace, so a pause of Redis
// itself declares no node dead.
func (q *Queue) Heartbeat(ctx context.Context) error {
	return q.run(ctx, q.s.heartbeat, q.o.NodeID, q.liveGap().Milliseconds(), q.o.NodeTTL.Milliseconds()).Err()
}

// liveGap is how long Redis may go without serving a heartbeat or sweep
// before it counts as stalled: two heartbeats, and at most half the TTL.
func (q *Queue) liveGap() time.Duration {
	return min(2*q.o.Heartbeat, q.o.NodeTTL/2)
}

// SweepResult counts what one sweep did.
type SweepResult struct {
	Expired, DeadNodes, Offered, Escalated int
}

// Sweep runs one sweep now (see Run).
func (q *Queue) Sweep(ctx context.Context) (SweepResult, error) {
	now := q.nowMs()
	res, err := q.run(ctx, q.s.sweep, now, q.o.NodeTTL.Milliseconds(), q.names, q.steps, q.liveGap().Milliseconds()).Int64Slice()
	if err != nil {
		return SweepResult{}, fmt.Errorf("queue: sweep: %w", err)
	}
	r := SweepResult{Expired: int(res[0]), DeadNodes: int(res[1]), Offered: int(res[2]), Escalated: int(res[3])}
	if r.Expired > 0 || r.DeadNodes > 0 || r.Escalated > 0 {
		q.log.Info("sweep", zap.Int("expired_offers", r.Expired), zap.Int("dead_nodes", r.DeadNodes),
			zap.Int("offered", r.Offered), zap.Int("escalated", r.Escalated))
	}
	return r, nil
}

// Leave takes this node out: the open offers of the desks seated here go
// back to the queue (reason "drained") and the desks are unseated, so they
// may reconnect to another node. Call it when draining.
func (q *Queue) Leave(ctx context.Context) error {
	return q.run(ctx, q.s.leave, q.o.NodeID, q.nowMs()).Err()
}
