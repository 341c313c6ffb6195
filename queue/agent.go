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
	"time"

	"github.com/redis/go-redis/v9"
)

// Presence is what an agent chose: to take offers or not.
type Presence string

// Presences an agent can choose.
const (
	PresenceReady    Presence = "ready"
	PresenceNotReady Presence = "not_ready"
)

// AgentState is an agent's state as the desk and statistics show it.
type AgentState string

// Agent states.
const (
	AgentLoggedOut AgentState = "logged_out"
	AgentReady     AgentState = "ready"
	AgentNotReady  AgentState = "not_ready"
	AgentOffered   AgentState = "offered"
	AgentBusy      AgentState = "busy"
	AgentWrapUp    AgentState = "wrap_up"
)

// AgentStates lists every state, in the order statistics show them.
var AgentStates = []AgentState{AgentLoggedOut, AgentReady, AgentNotReady, AgentOffered, AgentBusy, AgentWrapUp}

// Profile is what routing needs to know of an agent: skills (queue →
// proficiency 1–5) and capacity per channel.
type Profile struct {
	ID       string
	Name     string
	Skills   map[string]int
	Capacity map[Channel]int
}

// Session is one desk's hold on an agent. Only the newest desk of an agent
// may change its state; an older one is told it was replaced.
type Session struct {
	Agent string
	ID    string
	// Replaced is the session this one took over, if any, and the node it was on.
	Replaced, ReplacedNode string
	// Offers open for the agent and contacts it holds, to send to the desk.
	Offers []*Contact
	Held   []*Contact
}

// Connect seats an agent's desk on this node. A desk that reconnects, here or
// on another node, gets back the agent's state, open offers and held contacts.
func (q *Queue) Connect(ctx context.Context, p Profile) (*Session, error) {
	skills, caps, err := q.encodeProfile(p)
	if err != nil {
		return nil, err
	}
	sess := newSessionID()
	res, err := q.run(ctx, q.s.connect, p.ID, p.Name, skills, caps, q.o.NodeID, sess, q.nowMs(),
		skillGroup(p.Skills)).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("queue: connect %s: %w", p.ID, err)
	}
	s := &Session{Agent: p.ID, ID: sess, Replaced: res[0], ReplacedNode: res[1]}
	var offers, held []string
	dst := &offers
	for _, tn := range res[2:] {
		if tn == "|" {
			dst = &held
			continue
		}
		*dst = append(*dst, tn)
	}
	if s.Offers, err = q.contacts(ctx, offers); err != nil {
		return nil, err
	}
	if s.Held, err = q.contacts(ctx, held); err != nil {
		return nil, err
	}
	return s, nil
}

func (q *Queue) encodeProfile(p Profile) (skills, caps string, err error) {
	if p.ID == "" || strings.ContainsAny(p.ID, ":{} ") {
		return "", "", fmt.Errorf("%w: bad agent id %q", ErrInvalid, p.ID)
	}
	var sk []string
	for name, level := range p.Skills {
		if _, ok := q.queues[name]; !ok {
			return "", "", fmt.Errorf("%w: agent %s: unknown skill %q", ErrInvalid, p.ID, name)
		}
		sk = append(sk, name+"="+strconv.Itoa(level))
	}
	sort.Strings(sk)
	var cp []string
	for ch, n := range p.Capacity {
		if !ch.Valid() || n < 0 {
			return "", "", fmt.Errorf("%w: agent %s: bad capacity %s=%d", ErrInvalid, p.ID, ch, n)
		}
		cp = append(cp, string(ch)+"="+strconv.Itoa(n))
	}
	sort.Strings(cp)
	return strings.Join(sk, ","), strings.Join(cp, ","), nil
}

// skillGroup names the agents with the same skills (whatever their levels):
// routing keeps one set of available agents per group and channel, not per
// skill (see refresh in lua/common.lua).
func skillGroup(skills map[string]int) string {
	names := make([]string, 0, len(skills))
	for name := range skills {
		names = append(names, name)
	}
	sort.Strings(names)
	sum := sha1.Sum([]byte(strings.Join(names, ",")))
	return hex.EncodeToString(sum[:8])
}

func newSessionID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Disconnect unseats the desk of session s: its open offers go back to the
// queue at once (not counted as misses), contacts it holds stay the agent's.
// A session already replaced by a newer desk changes nothing.
func (q *Queue) Disconnect(ctx context.Context, agent, sess string) error {
	return q.run(ctx, q.s.disconnect, agent, sess, q.nowMs(), "0").Err()
}

// Logout is Disconnect that also logs the agent out.
func (q *Queue) Logout(ctx context.Context, agent, sess string) error {
	return q.run(ctx, q.s.disconnect, agent, sess, q.nowMs(), "1").Err()
}

// SetPresence makes the agent ready or not ready (with a reason).
func (q *Queue) SetPresence(ctx context.Context, agent, sess string, p Presence, reason string) error {
	if p != PresenceReady && p != PresenceNotReady {
		return fmt.Errorf("%w: presence %q", ErrInvalid, p)
	}
	if p == PresenceReady {
		reason = ""
	}
	return scriptError(q.run(ctx, q.s.presence, agent, sess, string(p), reason, q.nowMs()).Err())
}

// Accept takes an offered contact. Accepting one already held is not an error.
func (q *Queue) Accept(ctx context.Context, agent, tn string) error {
	return scriptError(q.run(ctx, q.s.accept, agent, tn, q.nowMs()).Err())
}

// Reject gives an offer back: the contact returns to its old place in the
// queue, and the miss counts against the agent.
func (q *Queue) Reject(ctx context.Context, agent, tn string) error {
	return scriptError(q.run(ctx, q.s.reject, agent, tn, q.nowMs()).Err())
}

// End marks the work on a held contact done; it stays the agent's until wrap-up.
func (q *Queue) End(ctx context.Context, agent, tn string) error {
	return scriptError(q.run(ctx, q.s.end, agent, tn, q.nowMs()).Err())
}

// WrapUp closes a held contact with its request type and outcome.
func (q *Queue) WrapUp(ctx context.Context, agent, tn string, rt RequestType, o Outcome, note string) error {
	if !rt.Valid() {
		return fmt.Errorf("%w: request_type %q is not one of consultation, help, complaint, report, suggestion, praise, other", ErrInvalid, rt)
	}
	if !o.Valid() {
		return fmt.Errorf("%w: outcome %q is not a wrap-up outcome", ErrInvalid, o)
	}
	return scriptError(q.run(ctx, q.s.wrapup, agent, tn, string(rt), string(o), note, q.nowMs()).Err())
}

// Contact returns one contact by tracking number.
func (q *Queue) Contact(ctx context.Context, tn string) (*Contact, error) {
	cs, err := q.contacts(ctx, []string{tn})
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		if q.o.Archive != nil {
			return q.o.Archive.ArchivedContact(ctx, tn)
		}
		return nil, fmt.Errorf("%w: %s", ErrNotFound, tn)
	}
	return cs[0], nil
}

// contactHashes reads the hashes of contacts tns in one round trip through
// rd (the node's pool, or a reader's own connection), in their order (an
// empty one for a contact that is gone).
func (q *Queue) contactHashes(ctx context.Context, rd redis.Cmdable, tns []string) ([]map[string]string, error) {
	pipe := rd.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(tns))
	for i, tn := range tns {
		cmds[i] = pipe.HGetAll(ctx, q.key("c", tn))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]map[string]string, len(tns))
	for i, cmd := range cmds {
		out[i] = cmd.Val()
	}
	return out, nil
}

// contacts loads contacts in one round trip, skipping any that are gone.
func (q *Queue) contacts(ctx context.Context, tns []string) ([]*Contact, error) {
	if len(tns) == 0 {
		return nil, nil
	}
	hs, err := q.contactHashes(ctx, q.rdb, tns)
	if err != nil {
		return nil, fmt.Errorf("queue: load contacts: %w", err)
	}
	out := make([]*Contact, 0, len(tns))
	for _, f := range hs {
		if len(f) == 0 {
			continue
		}
		c, err := contactFromFields(f)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Summary is one line of a citizen's history.
type Summary struct {
	TrackingNo string       `json:"tracking_no"`
	Channel    Channel      `json:"channel"`
	State      ContactState `json:"state"`
	Subject    string       `json:"subject,omitempty"`
	Outcome    Outcome      `json:"outcome,omitempty"`
	QueuedAt   time.Time    `json:"queued_at"`
}

// History lists the earlier contacts of c's citizen on every channel, newest
// first, at most n, without c itself.
func (q *Queue) History(ctx context.Context, c *Contact, n int) ([]Summary, error) {
	hk := historyKey(c.Intake)
	if hk == "" {
		return nil, nil
	}
	// Read with the other desks' history reads of the moment (batchRead).
	cmd := redis.NewStringSliceCmd(ctx, "zrevrange", q.key("hist", hk), 0, n)
	if err := q.batchRead(ctx, cmd); err != nil {
		return nil, fmt.Errorf("queue: history: %w", err)
	}
	tns, err := cmd.Result()
	if err != nil {
		return nil, fmt.Errorf("queue: history: %w", err)
	}
	others := tns[:0]
	for _, tn := range tns {
		if tn != c.TrackingNo {
			others = append(others, tn)
		}
	}
	cs, err := q.contacts(ctx, others)
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, min(len(cs), n))
	for _, o := range cs {
		if len(out) == n {
			break
		}
		out = append(out, Summary{TrackingNo: o.TrackingNo, Channel: o.Channel, State: o.State, Subject: o.Subject,
			Outcome: o.Outcome, QueuedAt: o.QueuedAt})
	}
	if q.o.Archive != nil && len(out) < n {
		// Older contacts have left Redis for the archive.
		old, err := q.o.Archive.ArchivedHistory(ctx, hk, n+1)
		if err != nil {
			return out, fmt.Errorf("queue: archived history: %w", err)
		}
		out = mergeHistory(out, old, c.TrackingNo, n)
	}
	return out, nil
}

// Status returns an agent's current state.
func (q *Queue) Status(ctx context.Context, agent string) (*AgentStatus, error) {
	f, err := q.rdb.HGetAll(ctx, q.key("a", agent)).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: agent %s: %w", agent, err)
	}
	st := &AgentStatus{State: AgentState(f["dstate"]), Presence: Presence(f["presence"]), Reason: f["reason"],
		Load: map[Channel]int{}}
	if st.State == "" || f["sess"] == "" {
		st.State = AgentLoggedOut
	}
	if t := msTime(f["dsince"]); t != nil {
		st.Since = *t
	}
	st.Misses, _ = strconv.Atoi(f["misses"])
	if t := msTime(f["phone"]); t != nil && t.After(q.o.Now()) {
		st.Phone = true
	}
	for _, ch := range Channels {
		if n, _ := strconv.Atoi(f["load:"+string(ch)]); n > 0 {
			st.Load[ch] = n
		}
	}
	return st, nil
}
