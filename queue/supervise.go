package queue

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Seat returns the desk session and node an agent is seated with, both
// empty when no desk is connected. A supervisor's action on an agent
// (SetPresence, Logout) names the session it read here; a desk that
// reconnects meanwhile makes it fail with ErrStale, and changes nothing.
func (q *Queue) Seat(ctx context.Context, agent string) (sess, node string, err error) {
	v, err := q.rdb.HMGet(ctx, q.key("a", agent), "sess", "node").Result()
	if err != nil {
		return "", "", fmt.Errorf("queue: seat of %s: %w", agent, err)
	}
	sess, _ = v[0].(string)
	node, _ = v[1].(string)
	return sess, node, nil
}

// OpenContact is a contact waiting in its queue or held by an agent, as a
// wallboard starts from.
type OpenContact struct {
	TrackingNo string
	Queue      string
	Channel    Channel
	State      ContactState
	Agent      string
	QueuedAt   int64 // ms
	AssignedAt int64 // ms; 0 when not assigned
}

// OpenContacts lists the contacts waiting in every queue and those held by
// the agents named: what a wallboard needs when it starts, before the event
// stream keeps it current. It reads the waiting sets and the agents' held
// sets, not every contact.
func (q *Queue) OpenContacts(ctx context.Context, agents []string) ([]OpenContact, error) {
	pipe := q.rdb.Pipeline()
	var sets []*redis.StringSliceCmd
	for _, d := range q.Queues() {
		sets = append(sets, pipe.ZRange(ctx, q.key("wt", d.Name), 0, -1))
	}
	for _, a := range agents {
		sets = append(sets, pipe.SMembers(ctx, q.key("ah", a)))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("queue: open contacts: %w", err)
	}
	var tns []string
	seen := map[string]bool{}
	for _, s := range sets {
		for _, tn := range s.Val() {
			if !seen[tn] {
				seen[tn] = true
				tns = append(tns, tn)
			}
		}
	}
	if len(tns) == 0 {
		return nil, nil
	}
	pipe = q.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(tns))
	for i, tn := range tns {
		cmds[i] = pipe.HMGet(ctx, q.key("c", tn), "queue", "ch", "state", "agent", "queued", "assigned")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("queue: open contacts: %w", err)
	}
	out := make([]OpenContact, 0, len(tns))
	for i, cmd := range cmds {
		v := cmd.Val()
		str := func(j int) string { s, _ := v[j].(string); return s }
		if str(2) == "" || str(2) == string(StateClosed) {
			continue
		}
		oc := OpenContact{TrackingNo: tns[i], Queue: str(0), Channel: Channel(str(1)), State: ContactState(str(2)),
			Agent: str(3)}
		oc.QueuedAt, _ = strconv.ParseInt(str(4), 10, 64)
		oc.AssignedAt, _ = strconv.ParseInt(str(5), 10, 64)
		out = append(out, oc)
	}
	return out, nil
}

// Reassign sends contact tn, held by an agent whose desk is gone, back to its
// queue at its old place (its rank and queued time kept), where the next
// agent takes it. It is refused (ErrWrongState) while the agent is connected
// or the contact's call is still connected, and for a contact nobody holds.
// Emits EventRescinded with reason "reassigned". Returns the agent it left.
func (q *Queue) Reassign(ctx context.Context, tn string) (string, error) {
	id, err := q.run(ctx, q.s.reassign, tn, q.nowMs()).Text()
	if err != nil {
		return "", scriptError(err)
	}
	return id, nil
}

// EventsBetween calls fn for every event after position from up to and
// including position to, in order: a bounded read of the stream's past (a
// wallboard replays today's events with it). Positions are stream ids, as
// from EventsPosition or an event's ID.
func (q *Queue) EventsBetween(ctx context.Context, from, to string, fn func(Event)) error {
	for {
		msgs, err := q.rdb.XRangeN(ctx, q.key("events"), "("+from, to, 1000).Result()
		if err != nil {
			return fmt.Errorf("queue: events between %s and %s: %w", from, to, err)
		}
		for _, m := range msgs {
			from = m.ID
			e, err := parseEvent(m)
			if err != nil {
				q.log.Error("bad event", zap.Error(err), zap.String("id", m.ID))
				continue
			}
			fn(e)
		}
		if len(msgs) < 1000 {
			return nil
		}
	}
}
