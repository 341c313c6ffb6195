package agentdesk

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// The wallboard's figures are computed on every node from the event stream
// the desk hub reads anyway (no subscription of its own). Today's counters
// survive a restart because a starting node replays the stream from today's
// midnight (China Standard Time) up to where its live subscription starts,
// then reads the contacts now waiting or held once (OpenContacts), and from
// then on keeps everything current from the events. Replaying instead of
// keeping counters in Redis adds no write to any contact's path and cannot
// count an event twice when several nodes read it; the stream is capped at
// queue.Options.EventsMaxLen entries (a million by default, several days of
// a city hotline), which bounds the replay.

// chinaTime is China Standard Time (UTC+8, no daylight saving): "today"
// starts at its midnight.
var chinaTime = time.FixedZone("CST", 8*3600)

// serviceLevelSeconds is the service level's threshold X.
const serviceLevelSeconds = 20

// slots is the number of 15-minute intervals in a day.
const slots = 96

// boardContact is what the board keeps of one open contact.
type boardContact struct {
	queue      string
	ch         queue.Channel
	state      queue.ContactState
	agent      string
	queuedAt   int64 // ms
	assignedAt int64 // ms, 0 before an agent accepted it
	// today: queued since today's midnight, so it counts in today's figures.
	today bool
	// removed: answered or abandoned already counted (a contact given back
	// and answered again counts once).
	removed bool
}

// queueFigures are one queue's counts today.
type queueFigures struct {
	Queued, QueuedVoice, QueuedText int
	Answered, AnsweredWithin        int
	Abandoned, AbandonedWithin      int
	AnswerWaitMs                    int64
	Handled                         int
	HandleMs                        int64
}

type boardAgent struct {
	status queue.AgentStatus
	known  bool
}

// board aggregates the event stream into the wallboard's figures.
type board struct {
	log    *zap.Logger
	titles map[string]string
	order  []string
	names  map[string]string // agent id → name

	// changed is signalled (without blocking) after every change, so the
	// wallboards are pushed at once.
	changed chan struct{}
	// in carries the live events from the hub to run.
	in      chan queue.Event
	stopped chan struct{}

	mu       sync.Mutex
	ready    bool
	pending  []queue.Event
	version  uint64
	day      time.Time // today's midnight, China time
	figures  map[string]*queueFigures
	buckets  map[queue.Channel]*[slots]int
	open     map[string]*boardContact
	agents   map[string]*boardAgent
	sinceRun time.Time // when the figures were rebuilt
}

func newBoard(titles map[string]string, order []string, agents map[string]Agent, log *zap.Logger) *board {
	b := &board{log: log, titles: titles, order: order, names: map[string]string{}, open: map[string]*boardContact{},
		agents: map[string]*boardAgent{}, changed: make(chan struct{}, 1), in: make(chan queue.Event, 16384),
		stopped: make(chan struct{})}
	for id, a := range agents {
		b.names[id] = a.Name
		b.agents[id] = &boardAgent{status: queue.AgentStatus{State: queue.AgentLoggedOut}}
	}
	b.resetDay(time.Now())
	return b
}

func midnight(t time.Time) time.Time {
	t = t.In(chinaTime)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, chinaTime)
}

// resetDay starts a new day's counters; b.mu is held (or b is new).
func (b *board) resetDay(now time.Time) {
	b.day = midnight(now)
	b.figures = map[string]*queueFigures{}
	for _, q := range b.order {
		b.figures[q] = &queueFigures{}
	}
	b.buckets = map[queue.Channel]*[slots]int{}
	for _, c := range b.open {
		c.today = false
	}
}

// eventTime is when an event was appended: its stream id's milliseconds.
func eventTime(id string) int64 {
	ms, _, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseInt(ms, 10, 64)
	return n
}

// midnightID is the stream position just before today's first event.
func midnightID(now time.Time) string {
	return strconv.FormatInt(midnight(now).UnixMilli()-1, 10) + "-18446744073709551615"
}

// apply takes one live event; while the board is being rebuilt it is kept
// and applied after.
//
// The desk hub hands it over without waiting on the board (a wallboard
// being built holds the board for a moment): events queue in b.in, and run
// folds them in.
func (b *board) apply(ev queue.Event) {
	select {
	case b.in <- ev:
	case <-b.stopped:
	}
}

// run folds the events handed to apply into the board until ctx ends.
func (b *board) run(ctx context.Context) {
	defer close(b.stopped)
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-b.in:
			b.mu.Lock()
			if !b.ready {
				b.pending = append(b.pending, ev)
				b.mu.Unlock()
				continue
			}
			b.applyLocked(ev)
			b.mu.Unlock()
			b.signal()
		}
	}
}

func (b *board) signal() {
	select {
	case b.changed <- struct{}{}:
	default:
	}
}

func (b *board) fig(q string) *queueFigures {
	f := b.figures[q]
	if f == nil {
		f = &queueFigures{}
		b.figures[q] = f
	}
	return f
}

func (b *board) contact(ev queue.Event) *boardContact {
	c := b.open[ev.TrackingNo]
	if c == nil && ev.Contact != nil {
		c = &boardContact{queue: ev.Contact.Queue, ch: ev.Contact.Channel, queuedAt: ev.Contact.QueuedAt.UnixMilli()}
		c.today = c.queuedAt >= b.day.UnixMilli()
		b.open[ev.TrackingNo] = c
	}
	return c
}

// queuedLocked counts contact tn joining queue q on channel ch at t (ms);
// b.mu is held.
func (b *board) queuedLocked(tn, q string, ch queue.Channel, t int64) {
	c := &boardContact{queue: q, ch: ch, state: queue.StateWaiting, queuedAt: t, today: t >= b.day.UnixMilli()}
	b.open[tn] = c
	if !c.today {
		return
	}
	f := b.fig(c.queue)
	f.Queued++
	if c.ch == queue.ChannelVoice {
		f.QueuedVoice++
	} else {
		f.QueuedText++
	}
	bk := b.buckets[c.ch]
	if bk == nil {
		bk = &[slots]int{}
		b.buckets[c.ch] = bk
	}
	if s := int((t - b.day.UnixMilli()) / (15 * 60 * 1000)); s >= 0 && s < slots {
		bk[s]++
	}
}

// applyLocked folds one event into the figures; b.mu is held.
func (b *board) applyLocked(ev queue.Event) {
	t := eventTime(ev.ID)
	if t >= b.day.Add(24*time.Hour).UnixMilli() {
		b.resetDay(time.UnixMilli(t))
	}
	b.version++
	if ev.Status != nil && ev.Agent != "" {
		a := b.agents[ev.Agent]
		if a == nil {
			a = &boardAgent{}
			b.agents[ev.Agent] = a
		}
		a.status, a.known = *ev.Status, true
	}
	switch ev.Type {
	case queue.EventQueued:
		b.queuedLocked(ev.TrackingNo, ev.Queue, ev.Channel, t)
	case queue.EventOffered:
		if ev.Joined && ev.Contact != nil { // offered as it was made: no queued event came before
			b.queuedLocked(ev.TrackingNo, ev.Contact.Queue, ev.Contact.Channel, t)
		}
		if c := b.contact(ev); c != nil {
			c.state, c.agent = queue.StateOffered, ev.Agent
		}
	case queue.EventAssigned:
		c := b.contact(ev)
		if c == nil {
			break
		}
		c.state, c.agent, c.assignedAt = queue.StateAssigned, ev.Agent, t
		if c.today && !c.removed {
			c.removed = true
			f := b.fig(c.queue)
			wait := max(t-c.queuedAt, 0)
			f.Answered++
			f.AnswerWaitMs += wait
			if wait <= serviceLevelSeconds*1000 {
				f.AnsweredWithin++
			}
		}
	case queue.EventRescinded:
		if c := b.open[ev.TrackingNo]; c != nil && ev.Reason != "abandoned" {
			c.state, c.agent = queue.StateWaiting, ""
			if ev.Reason == "reassigned" {
				c.assignedAt = 0
			}
		}
	case queue.EventRequeued: // waits again at its old place; counted answered once
		if c := b.open[ev.TrackingNo]; c != nil {
			c.state, c.agent, c.assignedAt = queue.StateWaiting, "", 0
		}
	case queue.EventEnded:
		if c := b.open[ev.TrackingNo]; c != nil {
			c.state = queue.StateWrapUp
		}
	case queue.EventClosed:
		c := b.open[ev.TrackingNo]
		delete(b.open, ev.TrackingNo)
		if c == nil {
			break
		}
		if ev.Outcome == queue.OutcomeAbandoned {
			if c.today && !c.removed {
				f := b.fig(c.queue)
				f.Abandoned++
				if t-c.queuedAt <= serviceLevelSeconds*1000 {
					f.AbandonedWithin++
				}
			}
		} else if c.assignedAt > 0 && t >= b.day.UnixMilli() {
			f := b.fig(c.queue)
			f.Handled++
			f.HandleMs += t - c.assignedAt
		}
	}
}

// rebuild replays today's events up to pos (where the live subscription
// starts), reads the open contacts and the agents' states once, then
// applies the live events that came meanwhile.
//
// Alerts met on the way go to keep (persisted again if Redis lost them).
func (b *board) rebuild(ctx context.Context, q *queue.Queue, pos string, keep func(queue.Event)) {
	start := time.Now()
	n := 0
	from := midnightID(start)
	for ctx.Err() == nil {
		err := q.EventsBetween(ctx, from, pos, func(ev queue.Event) {
			if ev.Type == queue.EventAlert && keep != nil {
				keep(ev)
			}
			b.mu.Lock()
			b.applyLocked(ev)
			b.mu.Unlock()
			from = ev.ID
			n++
		})
		if err == nil {
			break
		}
		b.log.Warn("wallboard: replaying today's events failed; retrying", zap.Error(err))
		sleepCtx(ctx, time.Second)
	}
	ids := make([]string, 0, len(b.names))
	for id := range b.names {
		ids = append(ids, id)
	}
	var open []queue.OpenContact
	for ctx.Err() == nil {
		var err error
		if open, err = q.OpenContacts(ctx, ids); err == nil {
			break
		}
		b.log.Warn("wallboard: reading open contacts failed; retrying", zap.Error(err))
		sleepCtx(ctx, time.Second)
	}
	statuses := map[string]*queue.AgentStatus{}
	for _, id := range ids {
		if st, err := q.Status(ctx, id); err == nil {
			statuses[id] = st
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := map[string]bool{}
	for _, oc := range open {
		seen[oc.TrackingNo] = true
		c := b.open[oc.TrackingNo]
		if c == nil {
			c = &boardContact{queuedAt: oc.QueuedAt, today: oc.QueuedAt >= b.day.UnixMilli()}
			b.open[oc.TrackingNo] = c
		}
		c.queue, c.ch, c.state, c.agent = oc.Queue, oc.Channel, oc.State, oc.Agent
		if oc.AssignedAt > 0 {
			c.assignedAt = oc.AssignedAt
		}
	}
	for tn, c := range b.open {
		// Offers are neither waiting nor held: keep them; the rest the
		// snapshot did not list is over.
		if !seen[tn] && c.state != queue.StateOffered {
			delete(b.open, tn)
		}
	}
	for id, st := range statuses {
		a := b.agents[id]
		if a == nil {
			a = &boardAgent{}
			b.agents[id] = a
		}
		a.status, a.known = *st, true
	}
	for _, ev := range b.pending {
		b.applyLocked(ev)
	}
	b.pending, b.ready, b.sinceRun = nil, true, time.Now()
	b.version++
	b.signal()
	b.log.Info("wallboard rebuilt from today's events", zap.Int("events", n), zap.Int("open", len(b.open)),
		zap.Duration("took", time.Since(start)))
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// The wallboard message (see PROTOCOL.md).
type wallboardMsg struct {
	Type       string           `json:"type"` // "wallboard"
	ServerTime time.Time        `json:"server_time"`
	Ready      bool             `json:"ready"`
	Day        string           `json:"day"`
	ServiceSec int              `json:"service_level_seconds"`
	Queues     []wallQueue      `json:"queues"`
	Agents     []wallAgent      `json:"agents"`
	AgentCount map[string]int   `json:"agent_counts"`
	Orphans    []wallContact    `json:"orphans"`
	Intervals  map[string][]int `json:"intervals"`
}

type wallQueue struct {
	Name          string   `json:"name"`
	Title         string   `json:"title"`
	Waiting       int      `json:"waiting"`
	WaitingCalls  int      `json:"waiting_calls"`
	WaitingTexts  int      `json:"waiting_texts"`
	OldestWait    float64  `json:"oldest_wait_seconds"`
	Queued        int      `json:"queued"`
	QueuedCalls   int      `json:"queued_calls"`
	QueuedTexts   int      `json:"queued_texts"`
	Answered      int      `json:"answered"`
	Abandoned     int      `json:"abandoned"`
	ServiceLevel  *float64 `json:"service_level"`
	ASA           *float64 `json:"asa_seconds"`
	AbandonRate   *float64 `json:"abandon_rate"`
	AHT           *float64 `json:"aht_seconds"`
	Handled       int      `json:"handled"`
	AnsweredIn    int      `json:"answered_within"`
	AbandonedIn   int      `json:"abandoned_within"`
	AnswerWaitSum float64  `json:"answer_wait_seconds_sum"`
}

type wallAgent struct {
	ID       string             `json:"id"`
	Name     string             `json:"name"`
	State    string             `json:"state"`
	Reason   string             `json:"reason,omitempty"`
	Since    time.Time          `json:"since"`
	Misses   int                `json:"misses"`
	Phone    bool               `json:"phone,omitempty"`
	Contacts []wallAgentContact `json:"contacts"`
}

// wallAgentContact is a contact an agent holds or is offered, as the
// agent's row shows it (kept short: every push carries every agent).
type wallAgentContact struct {
	TrackingNo string        `json:"tracking_no"`
	Channel    queue.Channel `json:"channel"`
	State      string        `json:"state"`
}

type wallContact struct {
	TrackingNo string        `json:"tracking_no"`
	Queue      string        `json:"queue"`
	Channel    queue.Channel `json:"channel"`
	State      string        `json:"state"`
	Agent      string        `json:"agent,omitempty"`
	AgentName  string        `json:"agent_name,omitempty"`
	QueuedAt   time.Time     `json:"queued_at"`
}

func ratio(n, d float64) *float64 {
	if d == 0 {
		return nil
	}
	v := n / d
	return &v
}

// snapshot is the board as the wallboard shows it now.
func (b *board) snapshot(now time.Time) wallboardMsg {
	// Copied under the lock, built outside it: the events keep flowing in.
	type openCopy struct {
		tn string
		c  boardContact
	}
	type agentCopy struct {
		id     string
		status queue.AgentStatus
	}
	b.mu.Lock()
	if now.Sub(b.day) >= 24*time.Hour {
		b.resetDay(now)
	}
	ready, day := b.ready, b.day
	figures := make(map[string]queueFigures, len(b.figures))
	for k, f := range b.figures {
		figures[k] = *f
	}
	buckets := make(map[queue.Channel][slots]int, len(b.buckets))
	for ch, bk := range b.buckets {
		buckets[ch] = *bk
	}
	open := make([]openCopy, 0, len(b.open))
	for tn, c := range b.open {
		open = append(open, openCopy{tn, *c})
	}
	agents := make([]agentCopy, 0, len(b.agents))
	for id, a := range b.agents {
		agents = append(agents, agentCopy{id, a.status})
	}
	b.mu.Unlock()

	m := wallboardMsg{Type: "wallboard", ServerTime: now.UTC(), Ready: ready, Day: day.Format("2006-01-02"),
		ServiceSec: serviceLevelSeconds, Intervals: map[string][]int{}, AgentCount: map[string]int{}}
	type live struct {
		waiting, calls, texts int
		oldest                int64
	}
	lives := map[string]*live{}
	held := map[string][]wallContact{}
	for _, oc := range open {
		tn, c := oc.tn, oc.c
		wc := wallContact{TrackingNo: tn, Queue: c.queue, Channel: c.ch, State: string(c.state), Agent: c.agent,
			AgentName: b.names[c.agent], QueuedAt: time.UnixMilli(c.queuedAt).UTC()}
		switch c.state {
		case queue.StateWaiting:
			l := lives[c.queue]
			if l == nil {
				l = &live{}
				lives[c.queue] = l
			}
			l.waiting++
			if c.ch == queue.ChannelVoice {
				l.calls++
			} else {
				l.texts++
			}
			if l.oldest == 0 || c.queuedAt < l.oldest {
				l.oldest = c.queuedAt
			}
		case queue.StateOffered, queue.StateAssigned, queue.StateWrapUp:
			if c.agent != "" {
				held[c.agent] = append(held[c.agent], wc)
			}
		}
	}
	for _, name := range b.order {
		f := figures[name]
		wq := wallQueue{Name: name, Title: b.titles[name], Queued: f.Queued, QueuedCalls: f.QueuedVoice,
			QueuedTexts: f.QueuedText, Answered: f.Answered, Abandoned: f.Abandoned, Handled: f.Handled,
			AnsweredIn: f.AnsweredWithin, AbandonedIn: f.AbandonedWithin, AnswerWaitSum: float64(f.AnswerWaitMs) / 1000}
		wq.ServiceLevel = ratio(float64(f.AnsweredWithin+f.AbandonedWithin), float64(f.Queued))
		wq.AbandonRate = ratio(float64(f.Abandoned), float64(f.Queued))
		wq.ASA = ratio(float64(f.AnswerWaitMs)/1000, float64(f.Answered))
		wq.AHT = ratio(float64(f.HandleMs)/1000, float64(f.Handled))
		if l := lives[name]; l != nil {
			wq.Waiting, wq.WaitingCalls, wq.WaitingTexts = l.waiting, l.calls, l.texts
			wq.OldestWait = max(now.Sub(time.UnixMilli(l.oldest)).Seconds(), 0)
		}
		m.Queues = append(m.Queues, wq)
	}
	for _, a := range agents {
		id, st := a.id, a.status
		wa := wallAgent{ID: id, Name: b.names[id], State: string(st.State), Reason: st.Reason, Since: st.Since.UTC(),
			Misses: st.Misses, Phone: st.Phone, Contacts: make([]wallAgentContact, 0, len(held[id]))}
		for _, c := range held[id] {
			wa.Contacts = append(wa.Contacts, wallAgentContact{TrackingNo: c.TrackingNo, Channel: c.Channel, State: c.State})
		}
		if wa.State == "" {
			wa.State = string(queue.AgentLoggedOut)
		}
		sort.Slice(wa.Contacts, func(i, j int) bool { return wa.Contacts[i].TrackingNo < wa.Contacts[j].TrackingNo })
		m.AgentCount[wa.State]++
		// Logged-out agents are counted; listed only while they hold something.
		if wa.State != string(queue.AgentLoggedOut) || len(wa.Contacts) > 0 {
			m.Agents = append(m.Agents, wa)
		}
		if st.State == queue.AgentLoggedOut || st.State == "" {
			for _, c := range held[id] {
				if c.State == string(queue.StateAssigned) || c.State == string(queue.StateWrapUp) {
					m.Orphans = append(m.Orphans, c)
				}
			}
		}
	}
	sort.Slice(m.Agents, func(i, j int) bool { return m.Agents[i].ID < m.Agents[j].ID })
	sort.Slice(m.Orphans, func(i, j int) bool { return m.Orphans[i].TrackingNo < m.Orphans[j].TrackingNo })
	if m.Orphans == nil {
		m.Orphans = []wallContact{}
	}
	for ch, bk := range buckets {
		m.Intervals[string(ch)] = bk[:]
	}
	return m
}

func (b *board) currentVersion() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.version
}
