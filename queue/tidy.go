package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The consumer group that notes closed contacts for the retention (when
// there is no Archive), and its one consumer: one node tidies at a time
// (the sweeper), so whichever it is takes up what the last one left pending.
const (
	retentionGroup    = "retention"
	retentionConsumer = "tidy"
)

// TidyResult counts what one Tidy did.
type TidyResult struct {
	// Noted closed contacts (from the event stream), Forgotten contacts
	// whose retention ended, Trimmed entries of the event stream.
	Noted, Forgotten int
	Trimmed          int64
}

// Tidy keeps Redis's memory flat, in steps of bounded length: without an
// Archive, closed contacts are noted (the consumer group "retention" reads
// the event stream's closed events into the set "closed") and leave Redis
// once closed longer than Options.Retention; and the event stream loses
// entries older than Options.KeepEvents that every consumer group has read.
// Run calls it on the sweeping node.
func (q *Queue) Tidy(ctx context.Context) (TidyResult, error) {
	var r TidyResult
	if q.o.Archive == nil && q.o.Retention > 0 {
		if err := q.JoinGroup(ctx, retentionGroup); err != nil {
			return r, err
		}
		for i := 0; i < 100; i++ {
			n, err := q.noteClosed(ctx, i == 0)
			r.Noted += n
			if err != nil {
				return r, err
			}
			if n == 0 && i > 0 {
				break
			}
		}
		// Closed times are the closed events' (Redis's clock), and so is the cutoff.
		now, err := q.rdb.Time(ctx).Result()
		if err != nil {
			return r, fmt.Errorf("queue: tidy: %w", err)
		}
		cutoff := now.Add(-q.o.Retention).UnixMilli()
		for i := 0; i < 100; i++ {
			n, err := q.run(ctx, q.s.forget, cutoff, 100, "closed").Int()
			r.Forgotten += n
			if err != nil {
				return r, fmt.Errorf("queue: forget closed: %w", err)
			}
			if n < 100 {
				break
			}
		}
	}
	n, err := q.trimEvents(ctx)
	r.Trimmed = n
	return r, err
}

// noteClosed reads up to 1,000 entries of the retention group (its pending
// ones first, when pending) and notes the closed contacts among them.
func (q *Queue) noteClosed(ctx context.Context, pending bool) (int, error) {
	batch, err := q.ReadGroup(ctx, retentionGroup, retentionConsumer, 1000, -1, pending)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	var zs []redis.Z
	ids := make([]string, len(batch))
	for i, e := range batch {
		ids[i] = e.ID
		if e.Fields["type"] == string(EventClosed) && e.Fields["contact"] != "" {
			zs = append(zs, redis.Z{Score: float64(e.At().UnixMilli()), Member: e.Fields["contact"]})
		}
	}
	pipe := q.rdb.TxPipeline()
	if len(zs) > 0 {
		pipe.ZAdd(ctx, q.key("closed"), zs...)
	}
	pipe.XAck(ctx, q.key("events"), retentionGroup, ids...)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("queue: note closed contacts: %w", err)
	}
	return len(batch), nil
}

// trimEvents trims the event stream below Options.KeepEvents ago (by
// Redis's clock) and below what every consumer group has read and
// acknowledged, 10,000 entries a call at most.
func (q *Queue) trimEvents(ctx context.Context) (int64, error) {
	if q.o.KeepEvents < 0 {
		return 0, nil
	}
	now, err := q.rdb.Time(ctx).Result()
	if err != nil {
		return 0, fmt.Errorf("queue: trim: %w", err)
	}
	floor := fmt.Sprintf("%d-0", now.Add(-q.o.KeepEvents).UnixMilli())
	groups, err := q.rdb.XInfoGroups(ctx, q.key("events")).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") || errors.Is(err, redis.Nil) {
			return 0, nil
		}
		return 0, fmt.Errorf("queue: groups: %w", err)
	}
	for _, g := range groups {
		f := g.LastDeliveredID
		if f == "" || f == "0-0" {
			return 0, nil // a group that has read nothing yet holds everything
		}
		if g.Pending > 0 {
			p, err := q.rdb.XPending(ctx, q.key("events"), g.Name).Result()
			if err != nil {
				return 0, fmt.Errorf("queue: pending of %s: %w", g.Name, err)
			}
			if p.Count > 0 && streamIDLess(p.Lower, f) {
				f = p.Lower
			}
		}
		if streamIDLess(f, floor) {
			floor = f
		}
	}
	var total int64
	for i := 0; i < 100; i++ {
		n, err := q.rdb.XTrimMinIDApprox(ctx, q.key("events"), floor, 10_000).Result()
		if err != nil {
			return total, fmt.Errorf("queue: trim: %w", err)
		}
		total += n
		if n == 0 {
			break
		}
	}
	return total, nil
}
