// Package queue owns Lianxin's domain: the contact, agents and their state,
// routing, offers (reservations with a deadline) and the event log. Redis is
// the source of truth; every change is one Lua script. Every other package
// depends on queue; queue depends on nothing of ours.
//
// Routing is a contact centre's: contacts wait in queues (skills) ordered by
// priority, then age; an agent with the queue's skill, ready, connected and
// below its capacity for the channel takes the next one, longest idle first.
// An offer is a reservation with a deadline; rejected or expired, the contact
// goes back to its old place and the agent is set not ready after too many
// misses in a row.
package queue

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Def is one queue and its priority (0–9, higher first).
type Def struct {
	Name string
	// Title is what people see, e.g. 综合受理.
	Title    string
	Priority int
	// Escalation widens a contact that waits too long to more queues, step
	// by step, keeping its place (priority, then age) in each.
	Escalation []Step
}

// Step is one escalation step: after waiting After, a contact also waits
// in queue To (and agents with that skill may take it).
type Step struct {
	After time.Duration
	To    string
}

// Options configure a Queue. Zero values take the defaults in brackets.
type Options struct {
	// Tag is the hash tag of every key ["lianxin"].
	Tag string
	// NodeID names this node [required].
	NodeID string
	// OfferTimeout is how long an offer stays open [20s].
	OfferTimeout time.Duration
	// RingTimeout is how long a call's offer stays open: the agent's phone
	// rings meanwhile [20s].
	RingTimeout time.Duration
	// CommandsMaxLen caps each node's command stream, approximately [10,000].
	CommandsMaxLen int64
	// MaxMisses in a row before an agent is set not ready; negative: never [3].
	MaxMisses int
	// Heartbeat is how often this node says it is alive [1s].
	Heartbeat time.Duration
	// NodeTTL is how long a silent node is trusted [5s].
	NodeTTL time.Duration
	// Sweep is how often expired offers and dead nodes are looked for [250ms].
	Sweep time.Duration
	// SweepBudget is how much Redis time one sweep script call spends on
	// new work before it stops and is called again [300µs]: a sweep holds
	// Redis that long at a time (plus the last step), whatever the backlog.
	SweepBudget time.Duration
	// Retention is how long a closed contact stays in Redis after it closed
	// when there is no Archive [168h]; negative: for ever. With an Archive,
	// the archiver forgets contacts once archived. The scripts of the node
	// that closes a contact note it for the retention (see Tidy), so every
	// node of a deployment needs the same Retention and Archive (or none).
	Retention time.Duration
	// KeepEvents is how long entries stay in the event stream [1h]: older
	// ones are trimmed once every consumer group has read them (Tidy);
	// negative: no trimming by age.
	KeepEvents time.Duration
	// MaxEventLag is how far behind a consumer group may fall and still
	// hold the event stream back [24h]: a group whose oldest entry not yet
	// read and acknowledged is older than this is stalled, and the stream is
	// trimmed past it (by KeepEvents, as if it had read up to MaxEventLag
	// ago); Tidy logs an error and counts the entries it lost (DroppedEvents).
	// The groups in KeepGroups, and a retention group left by an older
	// version until Tidy has drained it, hold it however far behind.
	// Negative: every group holds it.
	MaxEventLag time.Duration
	// KeepGroups are consumer groups that hold the event stream back
	// however far behind they are [none]: the archive's, whose entries
	// exist nowhere else (its lag raises the archive_lag alert instead).
	KeepGroups []string
	// EventsMaxLen caps the event stream, approximately [1,000,000].
	// Negative: no cap here, because an archiver trims the stream below
	// what it has archived (see TrimArchived).
	EventsMaxLen int64
	// LegacyEvents writes events as versions before the compact ones did
	// [false]: the agent status events carry as the eight "a_" fields of
	// versions before the one field "astat" (see EventStatus), and a queued
	// event before the offer of a contact offered as it is made (see
	// Event.Joined). Versions before them read only those, so while such
	// nodes run beside this one (a rolling upgrade), they need it: set it on
	// the new nodes until the last old one has stopped, then restart them
	// without it (README, Upgrading).
	LegacyEvents bool
	// Archive is where closed contacts are found once they have left Redis
	// [none]: Contact and History read it for what Redis no longer holds.
	Archive ArchiveReader
	// WaitReplicas > 0: Enqueue, EnqueueCall, Receive and the IVR's resolve
	// send WAIT in the same pipeline as their script and fail with
	// ErrNotReplicated unless that many replicas acknowledged the write
	// within WaitTimeout [0: no WAIT].
	WaitReplicas int
	// WaitTimeout bounds that WAIT [200ms].
	WaitTimeout time.Duration
	// Queues known to routing [required].
	Queues []Def
	// Now is the clock [time.Now].
	Now func() time.Time
	// Logger [zap.NewNop()].
	Logger *zap.Logger
}

func (o *Options) defaults() error {
	if o.Tag == "" {
		o.Tag = "lianxin"
	}
	if strings.ContainsAny(o.Tag, "{}") {
		return fmt.Errorf("queue: tag %q must not contain braces", o.Tag)
	}
	if o.NodeID == "" {
		return errors.New("queue: node id is required")
	}
	if o.OfferTimeout <= 0 {
		o.OfferTimeout = 20 * time.Second
	}
	if o.RingTimeout <= 0 {
		o.RingTimeout = 20 * time.Second
	}
	if o.CommandsMaxLen <= 0 {
		o.CommandsMaxLen = 10_000
	}
	if o.MaxMisses == 0 {
		o.MaxMisses = 3
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	if o.NodeTTL <= 0 {
		o.NodeTTL = 5 * time.Second
	}
	if o.Sweep <= 0 {
		o.Sweep = 250 * time.Millisecond
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = 200 * time.Millisecond
	}
	if o.SweepBudget <= 0 {
		o.SweepBudget = 300 * time.Microsecond
	}
	if o.Retention == 0 {
		o.Retention = 168 * time.Hour
	}
	if o.KeepEvents == 0 {
		o.KeepEvents = time.Hour
	}
	if o.MaxEventLag == 0 {
		o.MaxEventLag = 24 * time.Hour
	}
	if o.EventsMaxLen == 0 {
		o.EventsMaxLen = 1_000_000
	}
	if o.EventsMaxLen < 0 {
		o.EventsMaxLen = 0
	}
	if len(o.Queues) == 0 {
		return errors.New("queue: at least one queue is required")
	}
	for _, d := range o.Queues {
		if d.Name == "" || strings.ContainsAny(d.Name, ",:= \x00;>|]") {
			return fmt.Errorf("queue: bad queue name %q", d.Name)
		}
		if d.Priority < 0 || d.Priority > 9 {
			return fmt.Errorf("queue: queue %s: priority %d is outside 0–9", d.Name, d.Priority)
		}
	}
	known := map[string]bool{}
	for _, d := range o.Queues {
		known[d.Name] = true
	}
	for _, d := range o.Queues {
		for i, st := range d.Escalation {
			if !known[st.To] || st.To == d.Name {
				return fmt.Errorf("queue: queue %s: escalation step %d: %q is not another known queue", d.Name, i, st.To)
			}
			if st.After <= 0 {
				return fmt.Errorf("queue: queue %s: escalation step %d: after must be > 0", d.Name, i)
			}
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return nil
}

// Queue is a handle on the shared queue for one node.
type Queue struct {
	rdb    redis.UniversalClient
	o      Options
	prefix string
	keys   []string
	s      *scripts
	ivr    *ivrScripts
	fn     funcs
	queues map[string]Def
	names  string // "a,b,c" for the sweep
	esc    string // escVersion, named once: the sweep passes it on every call
	log    *zap.Logger
	// feed is the node's shared reader of the event stream (SubscribeShared).
	feed feed
	// eventsPace is SubscribeFrom's pace (see eventsPace): a field so that
	// a test can slow it to see it.
	eventsPace time.Duration
	m          *metrics
	// reads batches concurrent reads (History), calls concurrent script
	// calls (batcher).
	reads, calls batcher
	// repeatID, when set (tests only), is every once call's id: each call
	// is then a repeat of the first, as go-redis's second send of a call.
	repeatID string
	// last is the highest tracking number this node was given, by day: a
	// floor for the next that does not go back when Redis does.
	last struct {
		sync.Mutex
		date string
		seq  int64
	}
}

// New returns a Queue on rdb. It does not start anything: call Run for the
// heartbeat and the sweeper, and Subscribe for the events.
func New(rdb redis.UniversalClient, o Options) (*Queue, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	hs, err := newScriptHeads(o)
	if err != nil {
		return nil, err
	}
	byName := map[string]*redis.Script{}
	s, err := loadScripts(hs, byName)
	if err != nil {
		return nil, err
	}
	ivr, err := loadIVRScripts(hs, byName)
	if err != nil {
		return nil, err
	}
	q := &Queue{rdb: rdb, o: o, s: s, ivr: ivr, prefix: "{" + o.Tag + "}:", queues: map[string]Def{}, log: o.Logger,
		eventsPace: eventsPace, m: newMetrics(byName)}
	q.calls.observe = func(n int) { q.m.batch.Observe(float64(n)) }
	if err := q.fn.init(hs, byName, o.Tag, q.prefix, o.Now); err != nil {
		return nil, err
	}
	q.keys = []string{q.prefix}
	names := make([]string, 0, len(o.Queues))
	for _, d := range o.Queues {
		q.queues[d.Name] = d
		names = append(names, d.Name)
	}
	sort.Strings(names)
	q.names = strings.Join(names, ",")
	h := sha1.Sum([]byte(escSpec(o.Queues)))
	q.esc = hex.EncodeToString(h[:])
	return q, nil
}

// NodeID is this node's name.
func (q *Queue) NodeID() string { return q.o.NodeID }

// OfferTimeout is how long an offer stays open.
func (q *Queue) OfferTimeout() time.Duration { return q.o.OfferTimeout }

// RingTimeout is how long a call's offer stays open.
func (q *Queue) RingTimeout() time.Duration { return q.o.RingTimeout }

// Queues lists the queues routing knows, by name.
func (q *Queue) Queues() []Def {
	out := make([]Def, 0, len(q.queues))
	for _, d := range q.queues {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Ping checks that Redis answers.
func (q *Queue) Ping(ctx context.Context) error { return q.rdb.Ping(ctx).Err() }

func (q *Queue) key(parts ...string) string { return q.prefix + strings.Join(parts, ":") }

// Prefix is the hash-tag prefix of every key of this deployment, e.g.
// "{lianxin}:". The queue owns the keyspace: other packages put their keys
// under Prefix() and a namespace of their own ("agentdesk:", "sms:", …),
// and none builds the prefix itself.
func (q *Queue) Prefix() string { return q.prefix }

func (q *Queue) nowMs() int64 { return q.o.Now().UnixMilli() }

// run runs script s as its function (see funcs), made once more when Redis
// lacked the library or has no functions (funcs.again), or as a script.
func (q *Queue) run(ctx context.Context, s *redis.Script, args ...any) (cmd *redis.Cmd) {
	start := time.Now()
	defer func() { q.m.script(s, time.Since(start), cmd.Err()) }()
	for try := 0; ; try++ {
		fn, ok := q.fn.of[s]
		if !ok || q.fn.scriptsOnly.Load() {
			return s.Run(ctx, q.rdb, q.keys, args...)
		}
		gen := q.fn.loads.Load()
		cmd := q.fcall(ctx, fn, args)
		if try > 0 || !q.fn.again(ctx, q.rdb, cmd, gen) {
			return cmd
		}
	}
}

// once runs one of the onceScripts with a new call id as its last argument:
// however often the client sends it (go-redis retries after a read timeout),
// the script's change is made once.
func (q *Queue) once(ctx context.Context, s *redis.Script, args ...any) *redis.Cmd {
	return q.run(ctx, s, append(args, q.o.NodeID+":"+q.callID())...)
}

// callID names one call of a once script: a new random id, or the one a
// test repeats (see RepeatCalls in export_test.go).
func (q *Queue) callID() string {
	if q.repeatID != "" {
		return q.repeatID
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	return hex.EncodeToString(id[:])
}

// acked is once for an intake that a provider is acknowledged for: with
// Options.WaitReplicas set, WAIT follows the script in one pipeline (one
// round trip, the same connection, so WAIT counts the script's write), and
// too few replicas fail the call with ErrNotReplicated. Every run of a once
// script writes (its call:<id> result even for a duplicate), so a retry of an
// intake that failed here waits for the first write too.
func (q *Queue) acked(ctx context.Context, s *redis.Script, args ...any) (cmd *redis.Cmd) {
	if q.o.WaitReplicas <= 0 {
		return q.once(ctx, s, args...)
	}
	start := time.Now()
	defer func() { q.m.script(s, time.Since(start), cmd.Err()) }()
	args = append(args, q.o.NodeID+":"+q.callID())
	for try := 0; ; try++ {
		pipe := q.rdb.Pipeline()
		gen := q.fn.loads.Load()
		var cmd *redis.Cmd
		fn, isFn := q.fn.of[s]
		isFn = isFn && !q.fn.scriptsOnly.Load()
		switch {
		case isFn:
			cmd = pipe.FCall(ctx, fn, q.keys, args...)
		case try == 0:
			cmd = s.EvalSha(ctx, pipe, q.keys, args...)
		default:
			cmd = s.Eval(ctx, pipe, q.keys, args...) // a new primary after a failover has no scripts
		}
		wait := pipe.Do(ctx, "WAIT", q.o.WaitReplicas, q.o.WaitTimeout.Milliseconds())
		_, execErr := pipe.Exec(ctx)
		if err := cmd.Err(); err != nil {
			if try == 0 && (isFn && q.fn.again(ctx, q.rdb, cmd, gen) || !isFn && redis.HasErrorPrefix(err, "NOSCRIPT")) {
				continue
			}
			return cmd
		}
		if cmd.Val() == nil {
			// go-redis v9.17 leaves a pipeline's commands with neither value
			// nor error when its retries on a broken connection run out
			// (generalProcessPipeline): what the script did is unknown.
			if execErr == nil {
				execErr = errors.New("no reply")
			}
			cmd.SetErr(fmt.Errorf("queue: intake: %w", execErr))
			return cmd
		}
		n, err := wait.Int()
		switch {
		case err != nil: // no answer (the primary went away), or none that says
			cmd.SetErr(fmt.Errorf("%w: WAIT: %v", ErrNotReplicated, err))
		case n < q.o.WaitReplicas:
			cmd.SetErr(fmt.Errorf("%w: %d of %d replicas acknowledged within %v", ErrNotReplicated, n,
				q.o.WaitReplicas, q.o.WaitTimeout))
		}
		return cmd
	}
}

// seenScript keeps the first sighting's token of a name for a window.
var seenScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
`)

// Seen tells things seen again within window of their first sighting: it
// returns a token that is the same for every call with name until window
// has passed since the first, and a new one after. An implicit idempotency
// key (a web letter sent again without an Idempotency-Key) is the content's
// name and this token.
func (q *Queue) Seen(ctx context.Context, name string, window time.Duration) (string, error) {
	token := strconv.FormatInt(q.o.Now().UnixNano(), 36)
	return seenScript.Run(ctx, q.rdb, []string{q.key("seen", name)}, token, window.Milliseconds()).Text()
}
