package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ArchiveReader finds contacts that have left Redis (see Options.Archive).
type ArchiveReader interface {
	// ArchivedContact returns an archived contact, or an error wrapping
	// ErrNotFound.
	ArchivedContact(ctx context.Context, tn string) (*Contact, error)
	// ArchivedHistory lists a citizen's archived contacts by history key
	// (see HistoryKey), newest first, at most n.
	ArchivedHistory(ctx context.Context, historyKey string, n int) ([]Summary, error)
}

// HistoryKey is the key that links one citizen's contacts across channels
// (a phone number, else an e-mail address, else the channel's address); ""
// when the intake has none.
func HistoryKey(in Intake) string { return historyKey(in) }

// StreamEntry is one raw entry of the event stream: its ID and fields.
type StreamEntry struct {
	ID     string
	Fields map[string]string
}

// At is when the entry was appended: the milliseconds of its ID (Redis's
// clock).
func (e StreamEntry) At() time.Time {
	ms, _, _ := strings.Cut(e.ID, "-")
	n, _ := strconv.ParseInt(ms, 10, 64)
	return time.UnixMilli(n).UTC()
}

// Event parses the entry as Subscribe would.
func (e StreamEntry) Event() (Event, error) {
	vals := make(map[string]any, len(e.Fields))
	for k, v := range e.Fields {
		vals[k] = v
	}
	return parseEvent(redis.XMessage{ID: e.ID, Values: vals})
}

func entries(ms []redis.XMessage) []StreamEntry {
	out := make([]StreamEntry, 0, len(ms))
	for _, m := range ms {
		f := make(map[string]string, len(m.Values))
		for k, v := range m.Values {
			s, _ := v.(string)
			f[k] = s
		}
		out = append(out, StreamEntry{ID: m.ID, Fields: f})
	}
	return out
}

// JoinGroup creates consumer group group on the event stream, starting at
// the stream's beginning, if it does not exist yet. A group delivers each
// entry to one of its consumers: every node may consume, each entry is
// handled once (until acknowledged it stays pending, and may be claimed).
func (q *Queue) JoinGroup(ctx context.Context, group string) error {
	err := q.rdb.XGroupCreateMkStream(ctx, q.key("events"), group, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("queue: join group %s: %w", group, err)
	}
	return nil
}

// ReadGroup reads up to count entries for consumer of group: with pending
// true the consumer's own entries delivered before and not yet acknowledged
// (after a restart), else new entries, waiting up to block for some.
func (q *Queue) ReadGroup(ctx context.Context, group, consumer string, count int64, block time.Duration, pending bool) ([]StreamEntry, error) {
	id := ">"
	if pending {
		id, block = "0", -1
	}
	res, err := q.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: consumer,
		Streams: []string{q.key("events"), id}, Count: count, Block: block}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue: read group %s: %w", group, err)
	}
	var out []StreamEntry
	for _, s := range res {
		out = append(out, entries(s.Messages)...)
	}
	return out, nil
}

// ClaimStale takes over entries of group pending for longer than minIdle
// with any consumer (one on a node that died mid-batch) for consumer, up to
// count.
func (q *Queue) ClaimStale(ctx context.Context, group, consumer string, minIdle time.Duration, count int64) ([]StreamEntry, error) {
	ms, _, err := q.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: q.key("events"), Group: group,
		Consumer: consumer, MinIdle: minIdle, Start: "0-0", Count: count}).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: claim for %s: %w", group, err)
	}
	return entries(ms), nil
}

// Ack acknowledges entries of group: they are done and leave its pending list.
func (q *Queue) Ack(ctx context.Context, group string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := q.rdb.XAck(ctx, q.key("events"), group, ids...).Err(); err != nil {
		return fmt.Errorf("queue: ack %s: %w", group, err)
	}
	return nil
}

// TrimArchived trims the event stream below what group has handled: entries
// before both the group's oldest pending entry and its last delivered one
// (every entry before those is acknowledged), and older than keep (so that
// desks catching up from a recent position still find their events). It
// returns how many entries went. Without the group, nothing is trimmed.
func (q *Queue) TrimArchived(ctx context.Context, group string, keep time.Duration) (int64, error) {
	floor, err := q.ArchivedFloor(ctx, group)
	if err != nil || floor == "" {
		return 0, err
	}
	now, err := q.rdb.Time(ctx).Result()
	if err != nil {
		return 0, fmt.Errorf("queue: trim: %w", err)
	}
	if w := fmt.Sprintf("%d-0", now.Add(-keep).UnixMilli()); streamIDLess(w, floor) {
		floor = w
	}
	n, err := q.rdb.XTrimMinID(ctx, q.key("events"), floor).Result()
	if err != nil {
		return 0, fmt.Errorf("queue: trim: %w", err)
	}
	return n, nil
}

// ArchivedFloor is the ID below which every entry of the event stream has
// been handled and acknowledged by group: the lower of its oldest pending
// entry and its last delivered one; "" when the group does not exist.
func (q *Queue) ArchivedFloor(ctx context.Context, group string) (string, error) {
	groups, err := q.eventGroups(ctx)
	if err != nil {
		return "", err
	}
	floor := ""
	for _, g := range groups {
		if g.Name == group {
			floor = g.LastDeliveredID
		}
	}
	if floor == "" || floor == "0-0" {
		return "", nil
	}
	p, err := q.rdb.XPending(ctx, q.key("events"), group).Result()
	if err != nil {
		return "", fmt.Errorf("queue: pending of %s: %w", group, err)
	}
	if p.Count > 0 && streamIDLess(p.Lower, floor) {
		floor = p.Lower
	}
	return floor, nil
}

// StreamLen is the number of entries in the event stream.
func (q *Queue) StreamLen(ctx context.Context) (int64, error) {
	return q.rdb.XLen(ctx, q.key("events")).Result()
}

// streamIDLess compares two stream IDs ("ms-seq").
func streamIDLess(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	x, _ := strconv.ParseUint(am, 10, 64)
	y, _ := strconv.ParseUint(bm, 10, 64)
	if x != y {
		return x < y
	}
	x, _ = strconv.ParseUint(as, 10, 64)
	y, _ = strconv.ParseUint(bs, 10, 64)
	return x < y
}

// Record is a closed contact as Redis holds it: every field of its hash
// (whatever other parts added), the contact, and its messages.
type Record struct {
	Fields   map[string]string
	Contact  *Contact
	Messages []Message
}

// ClosedRecords loads the contacts of tns that are closed, with their
// messages, in one round trip; open and vanished ones are left out.
func (q *Queue) ClosedRecords(ctx context.Context, tns []string) ([]Record, error) {
	if len(tns) == 0 {
		return nil, nil
	}
	pipe := q.rdb.Pipeline()
	hs := make([]*redis.MapStringStringCmd, len(tns))
	ms := make([]*redis.StringSliceCmd, len(tns))
	for i, tn := range tns {
		hs[i] = pipe.HGetAll(ctx, q.key("c", tn))
		ms[i] = pipe.LRange(ctx, q.key("m", tn), 0, -1)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("queue: load closed contacts: %w", err)
	}
	var out []Record
	for i := range tns {
		f := hs[i].Val()
		if f["state"] != string(StateClosed) {
			continue
		}
		c, err := contactFromFields(f)
		if err != nil {
			return nil, err
		}
		r := Record{Fields: f, Contact: c, Messages: []Message{}}
		for _, raw := range ms[i].Val() {
			var m Message
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				return nil, fmt.Errorf("queue: messages of %s: %w", tns[i], err)
			}
			r.Messages = append(r.Messages, m)
		}
		out = append(out, r)
	}
	return out, nil
}

// MarkArchived notes that closed contacts are safely archived, each with the
// time it closed: ForgetArchived removes them from Redis once that is older
// than the retention.
func (q *Queue) MarkArchived(ctx context.Context, closed map[string]time.Time) error {
	if len(closed) == 0 {
		return nil
	}
	zs := make([]redis.Z, 0, len(closed))
	for tn, at := range closed {
		zs = append(zs, redis.Z{Score: float64(at.UnixMilli()), Member: tn})
	}
	if err := q.rdb.ZAdd(ctx, q.key("archived"), zs...).Err(); err != nil {
		return fmt.Errorf("queue: mark archived: %w", err)
	}
	return nil
}

// ForgetArchived removes archived contacts closed before cutoff from Redis
// (the contact, its messages, its place in the citizen's history), at most
// limit at a time, and returns how many went. Contacts not closed stay.
func (q *Queue) ForgetArchived(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	n, err := q.run(ctx, q.s.forget, cutoff.UnixMilli(), limit).Int()
	if err != nil {
		return 0, fmt.Errorf("queue: forget archived: %w", err)
	}
	return n, nil
}

// mergeHistory adds archived summaries to those from Redis, newest first,
// without duplicates or tn itself, at most n.
func mergeHistory(live, archived []Summary, tn string, n int) []Summary {
	seen := map[string]bool{tn: true}
	out := make([]Summary, 0, n)
	for _, s := range append(live, archived...) {
		if !seen[s.TrackingNo] {
			seen[s.TrackingNo] = true
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].QueuedAt.After(out[j].QueuedAt) })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// GroupLag is how far group is behind the event stream: the entries it has
// not acknowledged (pending with a consumer, or not yet delivered) and the
// ID of the oldest of them ("" when none). Without the group (its consumers
// never started: the database was never reached), every entry counts.
func (q *Queue) GroupLag(ctx context.Context, group string) (int64, string, error) {
	groups, err := q.eventGroups(ctx)
	if err != nil {
		return 0, "", err
	}
	var g *redis.XInfoGroup
	for i := range groups {
		if groups[i].Name == group {
			g = &groups[i]
		}
	}
	first := func(from string) (string, error) {
		ms, err := q.rdb.XRangeN(ctx, q.key("events"), from, "+", 1).Result()
		if err != nil {
			return "", fmt.Errorf("queue: lag: %w", err)
		}
		if len(ms) == 0 {
			return "", nil
		}
		return ms[0].ID, nil
	}
	if g == nil {
		n, err := q.rdb.XLen(ctx, q.key("events")).Result()
		if err != nil {
			return 0, "", fmt.Errorf("queue: lag: %w", err)
		}
		oldest, err := first("-")
		return n, oldest, err
	}
	p, err := q.rdb.XPending(ctx, q.key("events"), group).Result()
	if err != nil {
		return 0, "", fmt.Errorf("queue: pending of %s: %w", group, err)
	}
	n, oldest := p.Count, p.Lower
	if g.Lag > 0 {
		n += g.Lag
		if oldest == "" {
			if oldest, err = first("(" + g.LastDeliveredID); err != nil {
				return 0, "", err
			}
		}
	}
	return n, oldest, nil
}
