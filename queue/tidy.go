package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// The consumer group that noted closed contacts for the retention before the
// scripts noted them as they close (see closed_ev in common.lua), and its
// one consumer. Tidy drains a group left by an older version once and then
// removes it, so it no longer holds back the stream's trimming.
const (
	retentionGroup    = "retention"
	retentionConsumer = "tidy"
)

// notesClosed says whether closed contacts are noted in the set "closed" to
// leave Redis after Options.Retention: there is a retention, and no Archive
// (an archiver forgets the contacts it archived).
func (o *Options) notesClosed() bool { return o.Archive == nil && o.Retention > 0 }

// TidyResult counts what one Tidy did.
type TidyResult struct {
	// Noted closed contacts that a retention group left by an older version
	// still held (the scripts note the others as they close), Forgotten
	// contacts whose retention ended, Trimmed entries of the event stream.
	Noted, Forgotten int
	Trimmed          int64
	// Dropped counts, by consumer group, the entries trimmed that a group
	// stalled past Options.MaxEventLag had not read or acknowledged.
	Dropped map[string]int64
	// Libraries of the scripts' functions deleted: no live node used them.
	Libraries int
}

// Tidy keeps Redis's memory flat, in steps of bounded length: without an
// Archive, closed contacts leave Redis once closed longer than
// Options.Retention (the scripts note them in the set "closed" as they
// close); and the event stream loses entries older than Options.KeepEvents
// that every consumer group has read (but for groups stalled past
// Options.MaxEventLag); and the libraries of the scripts' functions that
// no live node uses are deleted. Run calls it on the sweeping node.
func (q *Queue) Tidy(ctx context.Context) (TidyResult, error) {
	var r TidyResult
	if q.o.notesClosed() {
		n, err := q.drainRetentionGroup(ctx)
		r.Noted = n
		if err != nil {
			return r, err
		}
		// Closed times are the closed events' (Redis's clock), and so is the cutoff.
		now, err := q.rdb.Time(ctx).Result()
		if err != nil {
			return r, fmt.Errorf("queue: tidy: %w", err)
		}
		cutoff := now.Add(-q.o.Retention).UnixMilli()
		for i := 0; i < forgetSteps; i++ {
			n, err := q.run(ctx, q.s.forget, cutoff, forgetBatch, "closed").Int()
			r.Forgotten += n
			if err != nil {
				return r, fmt.Errorf("queue: forget closed: %w", err)
			}
			if n < forgetBatch {
				break
			}
		}
	}
	n, dropped, err := q.trimEvents(ctx)
	r.Trimmed, r.Dropped = n, dropped
	if err != nil {
		return r, err
	}
	r.Libraries, err = q.dropOldLibraries(ctx)
	return r, err
}

// Tidy works in small steps, so no command or script holds Redis for long
// (by SLOWLOG, on a loaded 2-core machine: reading 1,000 entries of the
// stream took 5–20 ms, forgetting 100 contacts 4–10 ms, trimming 10,000
// entries 10 ms; at real-time priority, 200 entries read took 0.6–1.1 ms):
// it reads tidyReadBatch entries of the stream at a time, forgets forgetBatch
// contacts a script call and trims trimBatch entries a command; at most
// tidySteps reads (200,000 events) and trims, and forgetSteps calls
// (100,000 contacts) per Tidy, more than the 5 s between two bring at
// 10,000 contacts a second.
const (
	tidyReadBatch = 100
	forgetBatch   = 20
	trimBatch     = 1000
	tidySteps     = 2000
	forgetSteps   = 5000
)

// drainRetentionGroup notes the closed contacts of the events that a
// retention group left by an older version has not acknowledged (its
// pending ones, then those it has not read), and removes the group once it
// has read them all: no contact closed before the upgrade misses its
// retention. It returns how many contacts it noted. Without the group (the
// usual case) it costs one XINFO GROUPS, which fails no command (a read of
// a missing group would, in Redis's errorstats every Tidy). A group with
// more than tidySteps reads left stays, holding the stream back
// (keepsStream), until the next Tidy.
func (q *Queue) drainRetentionGroup(ctx context.Context) (int, error) {
	if ok, err := q.hasGroup(ctx, retentionGroup); err != nil || !ok {
		return 0, err
	}
	noted := 0
	pending := true
	for i := 0; i < tidySteps; i++ {
		read, n, err := q.noteClosed(ctx, pending)
		noted += n
		if err != nil {
			if strings.Contains(err.Error(), "NOGROUP") {
				return noted, nil // removed meanwhile by the node that swept before
			}
			return noted, err
		}
		if read > 0 {
			continue
		}
		if pending {
			pending = false
			continue
		}
		if err := q.rdb.XGroupDestroy(ctx, q.key("events"), retentionGroup).Err(); err != nil {
			return noted, fmt.Errorf("queue: remove the retention group: %w", err)
		}
		q.log.Info("the retention consumer group is drained and removed: the scripts note closed contacts now",
			zap.Int("noted", noted))
		return noted, nil
	}
	return noted, nil
}

// hasGroup says whether the event stream has consumer group name.
func (q *Queue) hasGroup(ctx context.Context, name string) (bool, error) {
	groups, err := q.eventGroups(ctx)
	return slices.ContainsFunc(groups, func(g redis.XInfoGroup) bool { return g.Name == name }), err
}

// eventGroups lists the event stream's consumer groups: nil when the
// stream does not exist (an existing stream without groups gives an empty,
// non-nil list).
func (q *Queue) eventGroups(ctx context.Context) ([]redis.XInfoGroup, error) {
	groups, err := q.rdb.XInfoGroups(ctx, q.key("events")).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") || errors.Is(err, redis.Nil) {
			return nil, nil
		}
		return nil, fmt.Errorf("queue: groups: %w", err)
	}
	return groups, nil
}

// noteClosed reads up to tidyReadBatch entries of the retention group (its
// consumer's pending ones, when pending, else new ones), notes the closed
// contacts among them and acknowledges them. It returns how many entries it
// read and how many contacts it noted.
func (q *Queue) noteClosed(ctx context.Context, pending bool) (int, int, error) {
	batch, err := q.ReadGroup(ctx, retentionGroup, retentionConsumer, tidyReadBatch, -1, pending)
	if err != nil || len(batch) == 0 {
		return 0, 0, err
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
		return 0, 0, fmt.Errorf("queue: note closed contacts: %w", err)
	}
	return len(batch), len(zs), nil
}

// trimEvents trims the event stream below Options.KeepEvents ago (by
// Redis's clock) and below what every consumer group holding the stream has
// read and acknowledged, trimBatch entries a command at most. A group stalled past
// Options.MaxEventLag holds it only to MaxEventLag ago (see stalledGroup):
// the entries trimmed that it had not handled are logged as an error and
// counted in the hash events:dropped, by group (DroppedEvents).
func (q *Queue) trimEvents(ctx context.Context) (int64, map[string]int64, error) {
	if q.o.KeepEvents < 0 {
		return 0, nil, nil
	}
	now, err := q.rdb.Time(ctx).Result()
	if err != nil {
		return 0, nil, fmt.Errorf("queue: trim: %w", err)
	}
	floor := fmt.Sprintf("%d-0", now.Add(-q.o.KeepEvents).UnixMilli())
	lagFloor := ""
	if q.o.MaxEventLag > 0 {
		lagFloor = fmt.Sprintf("%d-0", now.Add(-q.o.MaxEventLag).UnixMilli())
	}
	groups, err := q.eventGroups(ctx)
	if err != nil || groups == nil { // groups nil: no stream to trim
		return 0, nil, err
	}
	first := ""
	if ms, err := q.rdb.XRangeN(ctx, q.key("events"), "-", "+", 1).Result(); err != nil {
		return 0, nil, fmt.Errorf("queue: trim: %w", err)
	} else if len(ms) > 0 {
		first = ms[0].ID
	}
	type held struct{ group, id string }
	var stalled []held
	for _, g := range groups {
		f := g.LastDeliveredID
		if f == "" {
			f = "0-0" // a group that has read nothing yet holds everything
		}
		if g.Pending > 0 {
			p, err := q.oldestPending(ctx, g.Name, first)
			if err != nil {
				return 0, nil, err
			}
			if p != "" && streamIDLess(p, f) {
				f = p
			}
		}
		if lagFloor != "" && streamIDLess(f, lagFloor) && !q.keepsStream(g.Name) {
			// It holds the stream back to MaxEventLag ago, no further.
			stalled = append(stalled, held{g.Name, f})
			f = lagFloor
		}
		if streamIDLess(f, floor) {
			floor = f
		}
	}
	// In steps, each stalled group's place first: what a step trims was not
	// handled by the stalled groups placed below it.
	sort.Slice(stalled, func(i, j int) bool { return streamIDLess(stalled[i].id, stalled[j].id) })
	var total int64
	dropped := map[string]int64{}
	for i := 0; i <= len(stalled); i++ {
		cut := floor
		if i < len(stalled) && streamIDLess(stalled[i].id, floor) {
			cut = stalled[i].id
		}
		n, err := q.trimTo(ctx, cut)
		total += n
		if n > 0 {
			for _, s := range stalled[:i] {
				if streamIDLess(s.id, cut) {
					dropped[s.group] += n
				}
			}
		}
		if err != nil {
			return total, dropped, err
		}
	}
	if len(dropped) > 0 {
		pipe := q.rdb.Pipeline()
		for g, n := range dropped {
			pipe.HIncrBy(ctx, q.key("events:dropped"), g, n)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return total, dropped, fmt.Errorf("queue: count dropped events: %w", err)
		}
		for _, s := range stalled {
			if n := dropped[s.group]; n > 0 {
				q.log.Error("event stream trimmed past a stalled consumer group: it lost entries it had not read "+
					"or acknowledged", zap.String("group", s.group), zap.String("held_at", s.id),
					zap.Int64("dropped", n), zap.Duration("max_event_lag", q.o.MaxEventLag))
			}
		}
	}
	return total, dropped, nil
}

// oldestPending is the oldest entry of the stream (from first on) that
// group has read and not acknowledged, or "". An entry trimmed already (a
// stalled group's) is gone for it: it holds nothing back any more.
func (q *Queue) oldestPending(ctx context.Context, group, first string) (string, error) {
	if first == "" {
		return "", nil
	}
	ps, err := q.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: q.key("events"), Group: group, Start: first,
		End: "+", Count: 1}).Result()
	if err != nil {
		return "", fmt.Errorf("queue: pending of %s: %w", group, err)
	}
	if len(ps) == 0 {
		return "", nil
	}
	return ps[0].ID, nil
}

// keepsStream says whether group holds the stream back however far behind
// it is: one of Options.KeepGroups, or a retention group left by an older
// version that Tidy has not drained yet (it drains it just before trimming).
func (q *Queue) keepsStream(group string) bool {
	if group == retentionGroup && q.o.notesClosed() {
		return true
	}
	return slices.Contains(q.o.KeepGroups, group)
}

// trimTo trims the event stream below id, trimBatch entries a command,
// and returns how many went.
func (q *Queue) trimTo(ctx context.Context, id string) (int64, error) {
	var total int64
	for i := 0; i < tidySteps; i++ {
		n, err := q.rdb.XTrimMinIDApprox(ctx, q.key("events"), id, trimBatch).Result()
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

// DroppedEvents is how many entries of the event stream each stalled
// consumer group lost to trimming (see Options.MaxEventLag), since ever.
func (q *Queue) DroppedEvents(ctx context.Context) (map[string]int64, error) {
	m, err := q.rdb.HGetAll(ctx, q.key("events:dropped")).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: dropped events: %w", err)
	}
	out := make(map[string]int64, len(m))
	for g, v := range m {
		out[g], _ = strconv.ParseInt(v, 10, 64)
	}
	return out, nil
}
