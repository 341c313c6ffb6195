package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// EventType names a change in the event stream.
type EventType string

// The event stream's types. Every state change appends one or more.
const (
	EventQueued    EventType = "queued"    // a contact joined a queue (not one offered as it was made: see Event.Joined)
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
	// EventCallback: a waiting or ringing caller was lost with the node
	// holding the call (Reason node_lost); the contact keeps its place as a
	// callback contact, and an agent calls the citizen back.
	EventCallback EventType = "callback"
)

// AgentStatus is an agent's state as carried by an EventAgent.
type AgentStatus struct {
	State    AgentState      `json:"state"`
	Presence Presence        `json:"presence"`
	Reason   string          `json:"reason,omitempty"`
	Since    time.Time       `json:"since"`
	Load     map[Channel]int `json:"load"`
	Misses   int             `json:"misses"`
	// Phone is true while the agent's SIP phone is registered (calls need it).
	Phone bool `json:"phone"`
}

// Event is one entry of the event stream.
type Event struct {
	ID         string
	Type       EventType
	Agent      string
	Node       string
	TrackingNo string
	// Queue and Channel of the contact, where the event names them
	// (queued, rescinded, closed, escalated: the queue it now also waits
	// in, callback; offered and assigned carry them in Contact).
	Queue   string
	Channel Channel
	Reason  string
	Outcome Outcome
	// Session is the desk session an EventReplaced is about, or the one
	// the agent's Status was taken with.
	Session string
	// Contact is set for EventOffered and EventAssigned: the whole contact
	// when the agent's desk or the call is on this node (see loadContacts),
	// else what the event carries (state, agent, queue, channel, times, the
	// call's node and Call-ID) without the intake.
	Contact *Contact
	// Deadline of an EventOffered.
	Deadline time.Time
	// Joined: an EventOffered of a contact offered as it was made (an agent
	// was free and nothing waited), which joined its queue with this offer.
	// Such a contact has no EventQueued: a reader of new contacts takes this
	// one as its queued event too (unless Options.LegacyEvents writes both).
	Joined bool
	// Message is set for EventMessage.
	Message *Message
	// Text of an EventAlert.
	Text string
	// Line is set for EventLineTransfer.
	Line *LineStep
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
		Reason: f["reason"], Outcome: Outcome(f["outcome"]), Session: f["sess"], Queue: f["queue"], Channel: Channel(f["ch"])}
	if e.Type == EventOffered || e.Type == EventAssigned {
		if f["tn"] == "" {
			f["tn"] = f["contact"]
		}
		c, err := contactFromFields(f)
		if err != nil {
			return e, err
		}
		e.Contact, e.TrackingNo = c, c.TrackingNo
		if t := msTime(f["deadline"]); t != nil {
			e.Deadline = *t
		}
		e.Joined = e.Type == EventOffered && f["joined"] == "1"
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
	case EventLineTransfer:
		e.Line = &LineStep{To: f["to"], Mode: f["mode"], State: f["state"], Reason: f["reason"]}
	}
	if s, sess := EventStatus(f); s != nil {
		e.Status, e.Session = s, sess
	}
	return e, nil
}

// EventStatus reads the agent status an event's fields carry, and the desk
// session it was taken with; nil when they carry none. The status is one
// field, "astat": "state|since|load|misses|phone|presence|session|reason"
// (since in ms, load as "sms=1,web=2", phone "1" or "", the reason last as
// it may hold "|"), or, as versions before it wrote it and
// Options.LegacyEvents still does, the fields "a_state", "a_since",
// "a_load", "a_misses", "a_phone", "a_presence", "a_sess" and "a_reason".
// Both forms are read whatever this node writes.
func EventStatus(f map[string]string) (*AgentStatus, string) {
	var state, since, load, misses, phone, presence, sess, reason string
	if a, ok := f["astat"]; ok {
		parts := strings.SplitN(a, "|", 8)
		if len(parts) < 8 {
			return nil, ""
		}
		state, since, load, misses, phone, presence, sess, reason =
			parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6], parts[7]
	} else if st, ok := f["a_state"]; ok {
		state, since, load, misses, phone, presence, sess, reason =
			st, f["a_since"], f["a_load"], f["a_misses"], f["a_phone"], f["a_presence"], f["a_sess"], f["a_reason"]
	} else {
		return nil, ""
	}
	s := &AgentStatus{State: AgentState(state), Presence: Presence(presence), Reason: reason, Load: map[Channel]int{},
		Phone: phone == "1"}
	if t := msTime(since); t != nil {
		s.Since = *t
	}
	s.Misses, _ = strconv.Atoi(misses)
	for kv := range strings.SplitSeq(load, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			s.Load[Channel(k)], _ = strconv.Atoi(v)
		}
	}
	return s, sess
}

// Subscribe reads the event stream from now on and calls fn for each event,
// in order, until ctx ends. Every node reads every event: that is how the
// node holding an agent's desk learns what to push to it, whichever node made
// the change. Redis errors are logged and retried.
func (q *Queue) Subscribe(ctx context.Context, fn func(Event)) error {
	for ctx.Err() == nil {
		pos, err := q.EventsPosition(ctx)
		if err == nil {
			return q.SubscribeFrom(ctx, pos, fn)
		}
		if ctx.Err() != nil {
			break
		}
		q.log.Warn("event stream unavailable", zap.Error(err))
		sleep(ctx, 500*time.Millisecond)
	}
	return nil
}

// EventsPosition returns the event stream's current end: SubscribeFrom with
// it sees every event appended after this call, and none before.
func (q *Queue) EventsPosition(ctx context.Context) (string, error) { return q.lastEventID(ctx) }

// SubscribeFrom is Subscribe from position pos (from EventsPosition, or an
// event's ID): fn gets every event after pos, in order, until ctx ends. A
// read that was not full is followed by a short wait (eventsPace), so that
// a busy node reads many events at once.
func (q *Queue) SubscribeFrom(ctx context.Context, pos string, fn func(Event)) error {
	if pos == "" {
		return fmt.Errorf("%w: empty event position", ErrInvalid)
	}
	return readStream(ctx, q, q.key("events"), pos, "events", q.eventsPace, q.loadContacts, func(m redis.XMessage,
		_ struct{}) {
		e, err := parseEvent(m)
		if err != nil {
			q.log.Error("bad event", zap.Error(err), zap.String("id", m.ID))
			return
		}
		fn(e)
	})
}

// SubscribeQueued is SubscribeFrom for a reader of new contacts (the
// common-problems clusterer): fn gets each queued event after pos, and each
// offered event of a contact offered as it was made (Event.Joined, which
// has no queued event), in order, with its contact, and no other event
// (joinedQueue). It is read at a slower pace than the desks' (see
// queuedPace). The contacts of one read's new contacts are loaded together,
// in one round trip (one that has left Redis since is read from the
// archive; nil when it is in neither), and no other event's contact is
// loaded.
func (q *Queue) SubscribeQueued(ctx context.Context, pos string, fn func(Event, *Contact)) error {
	if pos == "" {
		return fmt.Errorf("%w: empty event position", ErrInvalid)
	}
	// load returns the read's new contacts.
	load := func(ctx context.Context, rd redis.Cmdable, ms []redis.XMessage) (map[string]*Contact, error) {
		var tns []string
		for _, m := range ms {
			if joinedQueue(m) {
				tn, _ := m.Values["contact"].(string)
				tns = append(tns, tn)
			}
		}
		loaded := make(map[string]*Contact, len(tns))
		if len(tns) == 0 {
			return loaded, nil
		}
		hs, err := q.contactHashes(ctx, rd, tns)
		if err != nil {
			return nil, fmt.Errorf("queue: load contacts of queued events: %w", err)
		}
		for i, f := range hs {
			if len(f) == 0 {
				continue // gone
			}
			// One contact that cannot be read must not hold the reader
			// (its read is retried until it succeeds): it is left out.
			c, err := contactFromFields(f)
			if err != nil {
				q.log.Error("contact of a queued event unreadable", zap.String("contact", tns[i]), zap.Error(err))
				continue
			}
			loaded[tns[i]] = c
		}
		return loaded, nil
	}
	return readStream(ctx, q, q.key("events"), pos, "events", queuedPace, load, func(m redis.XMessage,
		loaded map[string]*Contact) {
		if !joinedQueue(m) {
			return
		}
		e, err := parseEvent(m)
		if err != nil {
			q.log.Error("bad event", zap.Error(err), zap.String("id", m.ID))
			return
		}
		c := loaded[e.TrackingNo]
		if c == nil && q.o.Archive != nil {
			c, _ = q.o.Archive.ArchivedContact(ctx, e.TrackingNo)
		}
		fn(e, c)
	})
}

// joinedQueue says whether stream entry m is a contact's joining a queue:
// a queued event, or the offered event of a contact offered as it was made.
func joinedQueue(m redis.XMessage) bool {
	switch t, _ := m.Values["type"].(string); t {
	case string(EventQueued):
		return true
	case string(EventOffered):
		j, _ := m.Values["joined"].(string)
		return j == "1"
	}
	return false
}

// readBlock is how long a stream reader's XREAD waits for entries. The
// client does not end a blocked read when its context ends, so this is also
// how long a stopping reader may wait: short, as a node's stop (and every
// test node's) waits for its readers. An idle reader asks four times a
// second; a busy one never waits.
const readBlock = 250 * time.Millisecond

// readCount is the most entries a stream reader takes in one read.
const readCount = 512

// eventsPace is how long SubscribeFrom's reader (the node's shared feed of
// the desks and the SIP server) waits after a read that was not full. Each
// read costs Redis and the node a round trip whatever it brings; read at
// once, a busy node's reader woke for two or three events, twice a contact.
// The load tool at 2,000 contacts/s with 1,000 desks (beyond what this
// 2-core machine keeps up with), without and with the pace, two runs each:
// routed 1,284 and 1,097 → 1,377 and 1,202 contacts/s, Redis 502 and 583
// → 464 and 526 µs a contact. An offer waits for it, so it is short: at
// most 2 ms more before a desk sees its offer.
const eventsPace = 2 * time.Millisecond

// queuedPace is how long SubscribeQueued's reader waits after a read that
// was not full, for events to gather before it reads again. The desks'
// reader waits far less (eventsPace): an offer waits for it. The common-problems
// grouping does not need a new contact within a quarter of a second; read
// at once, each read woke for a handful of events, and its reads were half
// of the node's XREADs, 36 µs of Redis a contact in a surge (stop 25's
// commandstats).
const queuedPace = 250 * time.Millisecond

// readStream reads stream key after position last, calling fn for each
// entry in order, until ctx ends; Redis errors are logged and retried.
// prepare, if set, gets each batch read before fn gets its entries, and
// what it returns goes with each of them to fn. With pace > 0, a read that
// got fewer than readCount entries is followed by a wait of pace, so that
// the next read takes more at once.
//
// The read of the next batch, the prepare of the one before it and fn on
// the entries of the one before that run at once, each on its goroutine (fn
// on the caller's), and prepare must leave what it finds in what it
// returns, not where fn of an earlier batch would see it. Run one after
// the other, they kept a busy node's feed waiting for its two round trips
// 78 % of the time: with 1,000 desks at 2,000 contacts/s its reads of 512
// events took 40 ms and the load of their contacts 32 ms, for 16 ms of
// handing them on, and it fell half a second behind.
//
// The reads and prepare each go through a connection of their own
// (ownConn), not through the node's pool.
func readStream[T any](ctx context.Context, q *Queue, key, last, what string, pace time.Duration,
	prepare func(context.Context, redis.Cmdable, []redis.XMessage) (T, error), fn func(redis.XMessage, T)) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// A reader blocked in XREAD ends within readBlock of the cancel.
	defer func() { cancel(); wg.Wait() }()
	type batch struct {
		ms []redis.XMessage
		v  T
	}
	read := make(chan batch, 1)
	wg.Go(func() {
		defer close(read)
		own := q.ownConn()
		defer own.close()
		for ctx.Err() == nil {
			res, err := own.get().XRead(ctx, &redis.XReadArgs{Streams: []string{key, last}, Count: readCount,
				Block: readBlock}).Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				own.close()
				if ctx.Err() != nil {
					return
				}
				q.log.Warn("reading stream failed", zap.String("stream", what), zap.Error(err))
				sleep(ctx, 200*time.Millisecond)
				continue
			}
			for _, s := range res {
				if len(s.Messages) == 0 {
					continue
				}
				last = s.Messages[len(s.Messages)-1].ID
				select {
				case read <- batch{ms: s.Messages}:
				case <-ctx.Done():
					return
				}
				if pace > 0 && len(s.Messages) < readCount {
					sleep(ctx, pace)
				}
			}
		}
	})
	ready := read
	if prepare != nil {
		prepared := make(chan batch, 1)
		wg.Go(func() {
			defer close(prepared)
			own := q.ownConn()
			defer own.close()
			for b := range read {
				for {
					var err error
					if b.v, err = prepare(ctx, own.get(), b.ms); err == nil {
						break
					}
					own.close()
					if ctx.Err() != nil {
						return
					}
					q.log.Warn("reading stream failed", zap.String("stream", what), zap.Error(err))
					sleep(ctx, 200*time.Millisecond)
				}
				select {
				case prepared <- b:
				case <-ctx.Done():
					return
				}
			}
		})
		ready = prepared
	}
	for b := range ready {
		for _, m := range b.ms {
			if ctx.Err() != nil {
				return nil // the rest is read next time, from its position
			}
			fn(m, b.v)
		}
	}
	return nil
}

// loadContacts completes the offered and assigned events of a batch whose
// agent's desk is on this node (the node that shows the contact to the
// agent), or whose call is (cnode: the node that rings the agent's phone):
// the scripts put in events only the fields of the contact that
// changed, and here each gets the rest of the contact as it is in Redis,
// with the event's own fields over it. One round trip per batch, on one
// node. Other nodes' events keep only the event's fields (queue, channel,
// agent, times); a contact already gone (forgotten after its retention)
// too.
func (q *Queue) loadContacts(ctx context.Context, rd redis.Cmdable, ms []redis.XMessage) (struct{}, error) {
	var idx []int
	var tns []string
	for i, m := range ms {
		t, _ := m.Values["type"].(string)
		if t != string(EventOffered) && t != string(EventAssigned) {
			continue
		}
		if _, whole := m.Values["d"]; whole {
			continue // an event of an earlier version carries the whole contact
		}
		node, _ := m.Values["node"].(string)
		cnode, _ := m.Values["cnode"].(string)
		if node != q.o.NodeID && cnode != q.o.NodeID {
			continue
		}
		tn, _ := m.Values["contact"].(string)
		idx = append(idx, i)
		tns = append(tns, tn)
	}
	if len(idx) == 0 {
		return struct{}{}, nil
	}
	hs, err := q.contactHashes(ctx, rd, tns)
	if err != nil {
		return struct{}{}, fmt.Errorf("queue: load contacts of events: %w", err)
	}
	for k, i := range idx {
		whole := make(map[string]any, len(hs[k])+len(ms[i].Values))
		for f, v := range hs[k] {
			whole[f] = v
		}
		for f, v := range ms[i].Values {
			whole[f] = v
		}
		ms[i].Values = whole
	}
	return struct{}{}, nil
}

// ownConn is a connection a stream reader keeps for itself (go-redis's
// Conn, taken from the node's pool for as long as the reader runs), so that
// its reads do not wait in the pool behind the commands they are to
// unblock. Through the pool, when a node fell behind, the feed's read and
// its load of the offered contacts each waited there (the pool's commands
// waited 41-47 ms on average, 40,000-46,000 of 90,000) with the desks'
// accepts and wrap-ups that waited on the feed in turn, and it stayed
// behind: with 1,000 desks at 2,000 contacts/s, 3 runs in 4 routed only
// 1,815-1,877/s with offers 1.2-1.8 s late at p99; with its own
// connections, 13 runs in 13 kept up, p99 34-217 ms.
type ownConn struct {
	q  *Queue
	cn *redis.Conn
}

func (q *Queue) ownConn() *ownConn { return &ownConn{q: q} }

// get returns the connection, taking one from the pool if there is none;
// a client that has no such connections (a cluster's) is used itself.
func (o *ownConn) get() redis.Cmdable {
	if o.cn == nil {
		c, ok := o.q.rdb.(interface{ Conn() *redis.Conn })
		if !ok {
			return o.q.rdb
		}
		o.cn = c.Conn()
	}
	return o.cn
}

// close gives the connection back, at the reader's end and after any
// error: go-redis's Conn, once its connection went bad (Redis restarted,
// failed over), fails every command after it. The next get takes a new
// one.
func (o *ownConn) close() {
	if o.cn != nil {
		_ = o.cn.Close()
		o.cn = nil
	}
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
