package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// EventType names a change in the event stream.
type EventType string

// The event stream's types. Every state change appends one or more.
const (
	EventQueued    EventType = "queued"    // a contact joined a queue
	EventOffered   EventType = "offered"   // reserved for an agent until Deadline
	EventAssigned  EventType = "assigned"  // the agent accepted
	EventRescinded EventType = "rescinded" // an offer went back to the queue (Reason)
	EventEnded     EventType = "ended"     // work done, wrap-up pending
	EventClosed    EventType = "closed"    // wrapped up with an Outcome
	EventAgent     EventType = "agent"     // an agent's state changed
	EventReplaced  EventType = "replaced"  // a newer desk took over Session
	EventNodeLost  EventType = "node_lost" // Node stopped (Reason node_lost or drained)
	EventMessage   EventType = "message"   // a message joined a contact's conversation
	EventEscalated EventType = "escalated" // a contact that waited too long now also waits in another queue
	EventAlert     EventType = "alert"     // an emergency for supervisors (Reason: its kind)
)

// AgentStatus is an agent's state as carried by an EventAgent.
type AgentStatus struct {
	State    AgentState      `json:"state"`
	Presence Presence        `json:"presence"`
	Reason   string          `json:"reason,omitempty"`
	Since    time.Time       `json:"since"`
	Load     map[Channel]int `json:"load"`
	Misses   int             `json:"misses"`
}

// Event is one entry of the event stream.
type Event struct {
	ID         string
	Type       EventType
	Agent      string
	Node       string
	TrackingNo string
	Reason     string
	Outcome    Outcome
	// Session is the desk session an EventReplaced is about, or the one
	// the agent's Status was taken with.
	Session string
	// Contact is set for EventOffered and EventAssigned.
	Contact *Contact
	// Deadline of an EventOffered.
	Deadline time.Time
	// Message is set for EventMessage.
	Message *Message
	// Text of an EventAlert.
	Text string
	// Status is the agent's state after the change: always set for
	// EventAgent, and for EventOffered, EventAssigned and EventClosed, which
	// carry it along instead of a separate EventAgent.
	Status *AgentStatus
}

func parseEvent(m redis.XMessage) (Event, error) {
	f := make(map[string]string, len(m.Values))
	for k, v := range m.Values {
		s, _ := v.(string)
		f[k] = s
	}
	e := Event{ID: m.ID, Type: EventType(f["type"]), Agent: f["agent"], Node: f["node"], TrackingNo: f["contact"],
		Reason: f["reason"], Outcome: Outcome(f["outcome"]), Session: f["sess"]}
	if e.Type == EventOffered || e.Type == EventAssigned {
		c, err := contactFromFields(f)
		if err != nil {
			return e, err
		}
		e.Contact, e.TrackingNo = c, c.TrackingNo
		if t := msTime(f["deadline"]); t != nil {
			e.Deadline = *t
		}
	}
	switch e.Type {
	case EventMessage:
		var msg Message
		if err := json.Unmarshal([]byte(f["msg"]), &msg); err != nil {
			return e, fmt.Errorf("queue: bad message event: %w", err)
		}
		e.Message = &msg
	case EventAlert:
		e.Text = f["text"]
	}
	if st, ok := f["a_state"]; ok {
		s := &AgentStatus{State: AgentState(st), Presence: Presence(f["a_presence"]), Reason: f["a_reason"],
			Load: map[Channel]int{}}
		if t := msTime(f["a_since"]); t != nil {
			s.Since = *t
		}
		s.Misses, _ = strconv.Atoi(f["a_misses"])
		for _, kv := range strings.Split(f["a_load"], ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				s.Load[Channel(k)], _ = strconv.Atoi(v)
			}
		}
		e.Status, e.Session = s, f["a_sess"]
	}
	return e, nil
}

// Subscribe reads the event stream from now on and calls fn for each event,
// in order, until ctx ends. Every node reads every event: that is how the
// node holding an agent's desk learns what to push to it, whichever node made
// the change. Redis errors are logged and retried.
func (q *Queue) Subscribe(ctx context.Context, fn func(Event)) error {
	last := ""
	for ctx.Err() == nil {
		if last == "" {
			id, err := q.lastEventID(ctx)
			if err != nil {
				q.log.Warn("event stream unavailable", zap.Error(err))
				sleep(ctx, 500*time.Millisecond)
				continue
			}
			last = id
		}
		res, err := q.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{q.key("events"), last}, Count: 512,
			Block: 2 * time.Second}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			q.log.Warn("reading events failed", zap.Error(err))
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		for _, s := range res {
			for _, m := range s.Messages {
				last = m.ID
				e, err := parseEvent(m)
				if err != nil {
					q.log.Error("bad event", zap.Error(err), zap.String("id", m.ID))
					continue
				}
				fn(e)
			}
		}
	}
	return nil
}

func (q *Queue) lastEventID(ctx context.Context) (string, error) {
	msgs, err := q.rdb.XRevRangeN(ctx, q.key("events"), "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("queue: last event: %w", err)
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
