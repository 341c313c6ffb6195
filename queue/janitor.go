package queue

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Run keeps this node alive in Redis and sweeps until ctx ends: a heartbeat
// every Options.Heartbeat, and every Options.Sweep a sweep that returns
// expired offers, escalates contacts whose step is due, unseats the desks of
// nodes silent for Options.NodeTTL, and matches waiting contacts with ready
// agents. Every node runs it; one sweeps a shard at a time (the lease), and
// that one also tidies (see Tidy) every tidyEvery.
func (q *Queue) Run(ctx context.Context) error {
	if err := q.Heartbeat(ctx); err != nil {
		q.log.Warn("heartbeat failed", zap.Error(err))
	}
	// The heartbeat has its own loop: a long sweep (a backlog worked off in
	// many short calls) must not make this node look dead.
	done := make(chan struct{})
	go func() {
		defer close(done)
		hb := time.NewTicker(q.o.Heartbeat)
		defer hb.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hb.C:
				if err := q.Heartbeat(ctx); err != nil && ctx.Err() == nil {
					q.log.Warn("heartbeat failed", zap.Error(err))
				}
			}
		}
	}()
	defer func() { <-done }()
	sw := time.NewTicker(q.o.Sweep)
	defer sw.Stop()
	lastTidy := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sw.C:
			r, err := q.Sweep(ctx)
			if err != nil && ctx.Err() == nil {
				q.log.Warn("sweep failed", zap.Error(err))
			}
			if err == nil && !r.Skipped && time.Since(lastTidy) >= tidyEvery {
				lastTidy = time.Now()
				if _, err := q.Tidy(ctx); err != nil && ctx.Err() == nil {
					q.log.Warn("tidy failed", zap.Error(err))
				}
			}
		}
	}
}

// tidyEvery is how often the sweeping node tidies.
const tidyEvery = 5 * time.Second

// Heartbeat says this node is alive. Liveness is judged by Redis's own
// clock, not Options.Now: the heartbeat is stamped with Redis's TIME, and a
// sweep compares it with Redis's TIME. When Redis finds it served no
// heartbeat or sweep for longer than the gap (Redis stalled, or nobody could
// reach it), every node gets a full NodeTTL of grace, so a pause of Redis
// itself declares no node dead.
func (q *Queue) Heartbeat(ctx context.Context) error {
	return q.run(ctx, q.s.heartbeat, q.o.NodeID, q.liveGap().Milliseconds(), q.o.NodeTTL.Milliseconds(),
		q.escVersion(), q.fn.name).Err()
}

// liveGap is how long Redis may go without serving a heartbeat or sweep
// before it counts as stalled: two heartbeats, and at most half the TTL.
func (q *Queue) liveGap() time.Duration {
	return min(2*q.o.Heartbeat, q.o.NodeTTL/2)
}

// SweepResult counts what one sweep did.
type SweepResult struct {
	Expired, DeadNodes, Offered, Escalated int
	// Admitted is how many waiting (or offered) contacts an admission pass
	// placed in the escalation set by this node's steps, after they changed.
	Admitted int
	// Calls is how many script calls it took (each at most about
	// Options.SweepBudget of Redis time).
	Calls int
	// Skipped: another node holds the sweep lease and sweeps.
	Skipped bool
}

// sweepLease is how long a sweeper's lease lasts without a renewal: a
// node that stops sweeping gives way to another after it.
func (q *Queue) sweepLease() time.Duration { return max(4*q.o.Sweep, time.Second) }

// Sweep runs one sweep now (see Run): script calls of bounded length, one
// after the other, until nothing due is left. When another node holds the
// sweep lease, it does nothing (Skipped). A call that took 700 µs or more
// by Redis's clock anyway is noted in the capped list sweep:slow (newest
// first, 256 at most): "sweep <node's clock ms> <call number within the
// sweep> <µs> <longest gap between two clock readings, µs> <part it was
// in> <part=µs of the clock's last reading in it,…>". Every piece of work
// between two readings is small, so one long gap is Redis's thread held up
// by the machine (a virtual CPU taken away), not the sweep's work.
func (q *Queue) Sweep(ctx context.Context) (SweepResult, error) {
	var r SweepResult
	for {
		res, err := q.run(ctx, q.s.sweep, q.nowMs(), q.o.NodeTTL.Milliseconds(), q.names, q.liveGap().Milliseconds(),
			q.o.NodeID, q.sweepLease().Milliseconds(), q.o.SweepBudget.Microseconds(), boolArg(r.Calls == 0),
			q.escVersion(), r.Calls).Int64Slice()
		if err != nil {
			return r, fmt.Errorf("queue: sweep: %w", err)
		}
		r.Calls++
		if res[5] == 1 {
			r.Skipped = true
			return r, nil
		}
		r.Expired += int(res[0])
		r.DeadNodes += int(res[1])
		r.Offered += int(res[2])
		r.Escalated += int(res[3])
		r.Admitted += int(res[6])
		if res[4] == 0 || ctx.Err() != nil {
			break
		}
	}
	if r.Expired > 0 || r.DeadNodes > 0 || r.Escalated > 0 || r.Admitted > 0 {
		q.log.Info("sweep", zap.Int("expired_offers", r.Expired), zap.Int("dead_nodes", r.DeadNodes),
			zap.Int("offered", r.Offered), zap.Int("escalated", r.Escalated), zap.Int("admitted", r.Admitted),
			zap.Int("calls", r.Calls))
	}
	return r, nil
}

// escVersion names this node's escalation steps (sha1 of escSpec): its
// heartbeat says it, and its sweeps compare it with the live nodes' (see
// esc_mixed in sweeplib.lua).
func (q *Queue) escVersion() string { return q.esc }

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Leave takes this node out: the open offers of the desks seated here go
// back to the queue (reason "drained") and the desks are unseated, so they
// may reconnect to another node. Call it when draining.
// It runs in calls of bounded length (Options.SweepBudget) until done; a
// call that took long anyway is noted in sweep:slow (see Sweep).
func (q *Queue) Leave(ctx context.Context) error {
	for call := 0; ; call++ {
		done, err := q.run(ctx, q.s.leave, q.o.NodeID, q.nowMs(), q.o.SweepBudget.Microseconds(), call).Int()
		if err != nil || done == 1 {
			return err
		}
	}
}
