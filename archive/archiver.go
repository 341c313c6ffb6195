package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// DefaultGroup is the archivers' consumer group on the event stream unless
// Options.Group says otherwise.
const DefaultGroup = "archive"

// Options configure an Archiver. Zero values take the defaults in brackets.
type Options struct {
	// Group is the consumer group of the archivers [archive].
	Group string
	// Consumer names this node in the group [the queue's node id]. A node
	// that restarts under the same name takes its unacknowledged entries
	// back first.
	Consumer string
	// Batch is how many entries one transaction archives at most [500].
	Batch int64
	// Workers archive batches side by side, each a consumer of its own
	// (Consumer/1, Consumer/2, …) [4].
	Workers int
	// ClaimIdle: entries pending this long with another consumer (a node
	// that died mid-batch) are taken over [30s].
	ClaimIdle time.Duration
	// Retention is how long a closed contact stays in Redis after it
	// closed, once archived [168h].
	Retention time.Duration
	// KeepEvents is how long archived entries stay in the stream, for desks
	// catching up from a recent position [10m].
	KeepEvents time.Duration
	// Tidy is how often the stream is trimmed and old contacts forgotten [5s].
	Tidy time.Duration
	// Places gives the mailbox level and district of a contact [none].
	Places func(c *queue.Contact) (level, district string)
	// Now is the clock the retention is measured with [time.Now].
	Now    func() time.Time
	Logger *zap.Logger
	// LagAlert: when the oldest entry not yet archived is older than this,
	// Alert is called once (again only after the lag fell below it) [5m].
	LagAlert time.Duration
	// LagCheck is how often the lag is measured for LagAlert [10s].
	LagCheck time.Duration
	// Alert raises the archive_lag alert on supervisors' desks [none].
	Alert func(ctx context.Context, text string) error
}

func (o *Options) defaults(q *queue.Queue) {
	if o.Group == "" {
		o.Group = DefaultGroup
	}
	if o.Consumer == "" {
		o.Consumer = q.NodeID()
	}
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.ClaimIdle <= 0 {
		o.ClaimIdle = 30 * time.Second
	}
	if o.Retention <= 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.KeepEvents < 0 {
		o.KeepEvents = 0
	} else if o.KeepEvents == 0 {
		o.KeepEvents = 10 * time.Minute
	}
	if o.Tidy <= 0 {
		o.Tidy = 5 * time.Second
	}
	if o.Places == nil {
		o.Places = func(*queue.Contact) (string, string) { return "", "" }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.LagAlert <= 0 {
		o.LagAlert = 5 * time.Minute
	}
	if o.LagCheck <= 0 {
		o.LagCheck = 10 * time.Second
	}
}

// Archiver copies the event stream and closed contacts into a Store.
type Archiver struct {
	q   *queue.Queue
	s   *Store
	o   Options
	log *zap.Logger
}

// NewArchiver returns an archiver of q's events into s. Run starts it. The
// queue must not trim its stream by count (queue.Options.EventsMaxLen < 0):
// the archiver trims it.
func NewArchiver(q *queue.Queue, s *Store, o Options) *Archiver {
	o.defaults(q)
	return &Archiver{q: q, s: s, o: o, log: o.Logger}
}

// Run archives until ctx ends. Errors of Redis or PostgreSQL are logged and
// retried: nothing is acknowledged before it is committed.
func (a *Archiver) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); a.watchLag(ctx) }()
	select {
	case <-a.s.Ready():
	default:
		a.log.Warn("archive: waiting for PostgreSQL before archiving")
		select {
		case <-ctx.Done():
			return nil
		case <-a.s.Ready():
		}
	}
	for {
		err := a.q.JoinGroup(ctx, a.o.Group)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		a.log.Warn("archive: cannot join the consumer group", zap.Error(err))
		sleep(ctx, time.Second)
	}
	a.log.Info("archiving", zap.String("group", a.o.Group), zap.String("consumer", a.o.Consumer),
		zap.Int("workers", a.o.Workers), zap.Duration("retention", a.o.Retention))
	for i := range a.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.work(ctx, fmt.Sprintf("%s/%d", a.o.Consumer, i+1), i == 0)
		}()
	}
	return nil
}

// Lag is how far the archive is behind the event stream: the entries not
// yet archived (acknowledged by the group) and the age of the oldest.
func (a *Archiver) Lag(ctx context.Context) (int64, time.Duration, error) {
	n, oldest, err := a.q.GroupLag(ctx, a.o.Group)
	if err != nil || oldest == "" {
		return n, 0, err
	}
	age := time.Since(queue.StreamEntry{ID: oldest}.At()) // stream IDs are Redis's clock, not the queue's
	return n, max(age, 0), nil
}

// watchLag raises Alert when the archive falls LagAlert behind.
func (a *Archiver) watchLag(ctx context.Context) {
	if a.o.Alert == nil {
		return
	}
	alerted := false
	for ctx.Err() == nil {
		sleep(ctx, a.o.LagCheck)
		n, age, err := a.Lag(ctx)
		if err != nil {
			continue
		}
		switch {
		case age >= a.o.LagAlert && !alerted:
			text := fmt.Sprintf("归档滞后：%d 条事件未写入 PostgreSQL，最早的已等待 %s（超过 %s）；请检查数据库", n,
				age.Round(time.Second), a.o.LagAlert)
			if err := a.o.Alert(ctx, text); err != nil {
				a.log.Warn("archive: lag alert not raised", zap.Error(err))
				continue
			}
			alerted = true
			a.log.Warn("archive lag", zap.Int64("entries", n), zap.Duration("oldest", age))
		case age < a.o.LagAlert && alerted:
			alerted = false
			a.log.Info("archive caught up", zap.Int64("entries", n), zap.Duration("oldest", age))
		}
	}
}

// work is one consumer's loop; the first one also tidies.
func (a *Archiver) work(ctx context.Context, consumer string, tidies bool) {
	pending := true // first the entries this consumer took before a restart
	lastClaim, lastTidy := time.Time{}, time.Now()
	for ctx.Err() == nil {
		var batch []queue.StreamEntry
		var err error
		switch {
		case pending:
			batch, err = a.q.ReadGroup(ctx, a.o.Group, consumer, a.o.Batch, 0, true)
			if err == nil && len(batch) == 0 {
				pending = false
			}
		case time.Since(lastClaim) > a.o.ClaimIdle/2:
			lastClaim = time.Now()
			batch, err = a.q.ClaimStale(ctx, a.o.Group, consumer, a.o.ClaimIdle, a.o.Batch)
			if len(batch) > 0 {
				a.log.Info("archive: took over entries of a silent consumer", zap.Int("entries", len(batch)))
			}
		default:
			batch, err = a.q.ReadGroup(ctx, a.o.Group, consumer, a.o.Batch, time.Second, false)
		}
		if err == nil && len(batch) > 0 {
			err = a.Archive(ctx, batch)
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			a.log.Warn("archive: batch failed; retrying", zap.Error(err))
			pending = true // what was read stays pending for this consumer
			sleep(ctx, time.Second)
			continue
		}
		if tidies && time.Since(lastTidy) > a.o.Tidy {
			lastTidy = time.Now()
			a.tidy(ctx)
		}
	}
}

// tidy trims the stream below what is archived and forgets contacts whose
// retention is over.
func (a *Archiver) tidy(ctx context.Context) {
	if _, err := a.q.TrimArchived(ctx, a.o.Group, a.o.KeepEvents); err != nil && ctx.Err() == nil {
		a.log.Warn("archive: trimming the event stream failed", zap.Error(err))
	}
	cutoff := a.o.Now().Add(-a.o.Retention)
	for ctx.Err() == nil {
		n, err := a.q.ForgetArchived(ctx, cutoff, 500)
		if err != nil {
			a.log.Warn("archive: forgetting archived contacts failed", zap.Error(err))
			return
		}
		if n < 500 {
			return
		}
	}
}

// Tidy runs one trim of the stream and one round of forgetting now.
func (a *Archiver) Tidy(ctx context.Context) { a.tidy(ctx) }

// Archive writes one batch of stream entries and the closed contacts they
// touch in one transaction, then acknowledges them. Replaying a batch writes
// nothing twice: events are keyed by their ID, contacts by tracking number
// (a contact written again is updated, e.g. with a rating given later).
func (a *Archiver) Archive(ctx context.Context, batch []queue.StreamEntry) error {
	ids := make([]string, len(batch))
	ats := make([]time.Time, len(batch))
	types := make([]string, len(batch))
	contacts := make([]string, len(batch))
	agents := make([]string, len(batch))
	nodes := make([]string, len(batch))
	fields := make([]string, len(batch))
	states := make([]string, len(batch))
	sinces := make([]*time.Time, len(batch))
	var tns []string
	seen := map[string]bool{}
	for i, e := range batch {
		tn := e.Fields["contact"]
		if tn == "" {
			tn = e.Fields["tn"] // offered and assigned carry the contact's fields
		}
		b, err := json.Marshal(e.Fields)
		if err != nil {
			return fmt.Errorf("archive: event %s: %w", e.ID, err)
		}
		ids[i], ats[i], types[i], contacts[i] = e.ID, e.At(), e.Fields["type"], tn
		agents[i], nodes[i], fields[i] = e.Fields["agent"], e.Fields["node"], string(b)
		if st, _ := queue.EventStatus(e.Fields); st != nil && st.State != "" && !st.Since.IsZero() {
			t := st.Since
			states[i], sinces[i] = string(st.State), &t
		}
		if tn != "" && !seen[tn] {
			seen[tn] = true
			tns = append(tns, tn)
		}
	}
	// Any event of a closed contact (its closing, a rating after it) writes
	// the contact as it now is.
	recs, err := a.q.ClosedRecords(ctx, tns)
	if err != nil {
		return err
	}
	tx, err := a.s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("archive: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	_, err = tx.Exec(ctx, `INSERT INTO events (id, at, type, contact, agent, node, agent_state, agent_since, fields)
		SELECT id, at, type, contact, agent, node, agent_state, agent_since, fields::jsonb
		FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::timestamptz[], $9::text[])
			AS e(id, at, type, contact, agent, node, agent_state, agent_since, fields)
		ON CONFLICT (id) DO NOTHING`, ids, ats, types, contacts, agents, nodes, states, sinces, fields)
	if err != nil {
		return fmt.Errorf("archive: events: %w", err)
	}
	closed := make(map[string]time.Time, len(recs))
	if len(recs) > 0 {
		b := &pgx.Batch{}
		for _, r := range recs {
			row, err := a.row(r)
			if err != nil {
				return err
			}
			b.Queue(upsertContact, row...)
			closed[r.Contact.TrackingNo] = *r.Contact.ClosedAt
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("archive: contacts: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("archive: commit: %w", err)
	}
	if err := a.q.MarkArchived(ctx, closed); err != nil {
		return err
	}
	return a.q.Ack(ctx, a.o.Group, ids...)
}

const upsertContact = `INSERT INTO contacts (tracking_no, channel, line, line_name, queue, mailbox_level, district,
	request_type, outcome, agent, history_key, rating, received_at, queued_at, offered_at, answered_at, ended_at,
	closed_at, wait_seconds, talk_seconds, hold_seconds, acw_seconds, abandoned, callback, contact, fields, messages)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,
	$24, $25, $26, $27)
	ON CONFLICT (tracking_no) DO UPDATE SET channel = EXCLUDED.channel, line = EXCLUDED.line,
	line_name = EXCLUDED.line_name, queue = EXCLUDED.queue, mailbox_level = EXCLUDED.mailbox_level,
	district = EXCLUDED.district, request_type = EXCLUDED.request_type, outcome = EXCLUDED.outcome,
	agent = EXCLUDED.agent, history_key = EXCLUDED.history_key, rating = EXCLUDED.rating,
	received_at = EXCLUDED.received_at, queued_at = EXCLUDED.queued_at, offered_at = EXCLUDED.offered_at,
	answered_at = EXCLUDED.answered_at, ended_at = EXCLUDED.ended_at, closed_at = EXCLUDED.closed_at,
	wait_seconds = EXCLUDED.wait_seconds, talk_seconds = EXCLUDED.talk_seconds, hold_seconds = EXCLUDED.hold_seconds,
	acw_seconds = EXCLUDED.acw_seconds, abandoned = EXCLUDED.abandoned, callback = EXCLUDED.callback,
	contact = EXCLUDED.contact, fields = EXCLUDED.fields, messages = EXCLUDED.messages, archived_at = now()`

// row is a closed contact's values for upsertContact.
func (a *Archiver) row(r queue.Record) ([]any, error) {
	c := r.Contact
	if c.ClosedAt == nil {
		return nil, fmt.Errorf("archive: contact %s is closed without a closing time", c.TrackingNo)
	}
	level, district := a.o.Places(c)
	received := c.ReceivedAt
	if received.IsZero() {
		received = c.QueuedAt
	}
	// The wait: in queue until the answer, or until the caller hung up.
	var wait *float64
	switch {
	case r.Fields["wait_ms"] != "":
		w := c.WaitSeconds
		wait = &w
	case c.AssignedAt != nil:
		w := c.AssignedAt.Sub(c.QueuedAt).Seconds()
		wait = &w
	}
	// With the agent: a call's talk time (hold left out); a text contact's
	// time from the answer to its end.
	var talk, acw float64
	switch {
	case c.Channel == queue.ChannelVoice:
		talk = c.TalkSeconds - c.HoldSeconds
	case c.AssignedAt != nil && c.EndedAt != nil:
		talk = c.EndedAt.Sub(*c.AssignedAt).Seconds()
	}
	if c.AssignedAt != nil && c.EndedAt != nil {
		acw = c.ClosedAt.Sub(*c.EndedAt).Seconds()
	}
	cj, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("archive: contact %s: %w", c.TrackingNo, err)
	}
	// The hash's fields, but its intake ("d"), which contact holds already.
	rest := make(map[string]string, len(r.Fields))
	for k, v := range r.Fields {
		if k != "d" {
			rest[k] = v
		}
	}
	fj, err := json.Marshal(rest)
	if err != nil {
		return nil, fmt.Errorf("archive: contact %s: %w", c.TrackingNo, err)
	}
	mj, err := json.Marshal(r.Messages)
	if err != nil {
		return nil, fmt.Errorf("archive: contact %s: %w", c.TrackingNo, err)
	}
	return []any{c.TrackingNo, string(c.Channel), c.Line, c.LineName, c.Queue, level, district,
		string(c.RequestType), string(c.Outcome), c.Agent, queue.HistoryKey(c.Intake), r.Fields["rating"],
		received, c.QueuedAt, c.OfferedAt, c.AssignedAt, c.EndedAt, *c.ClosedAt, wait, talk, c.HoldSeconds, acw,
		c.Outcome == queue.OutcomeAbandoned, c.Callback, string(cj), string(fj), string(mj)}, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
