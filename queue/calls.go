package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Call is what the queue knows of a caller's SIP call.
type Call struct {
	// ID is the SIP Call-ID: a retried INVITE with the same Call-ID never
	// makes a second contact.
	ID string
	// Node holds the call's media (q.NodeID() of the node that answered).
	Node string
}

// AnswerCall records a call as the node answers it, before its welcome
// prompt and menu: a contact held out of every queue (StateIVR), in the
// line's queue in.Queue, with the node holding its media. Should the node
// die before the caller is queued, the call becomes a callback contact like
// a waiting caller's (at the place its answer time gives it), so a caller
// answered is never forgotten. EnqueueCall with the same call queues it
// where the caller chose; Hangup by the caller before that drops it, as if
// never made (the caller was never in a queue). The Call-ID makes a retry
// return the same contact.
func (q *Queue) AnswerCall(ctx context.Context, in Intake, call Call) (Receipt, error) {
	return q.enqueueCall(ctx, in, call, true)
}

// EnqueueCall queues a caller, after any menu, in the queue the caller
// chose (in.Queue), and records the node holding the call's media. The
// contact is on channel voice (in.Channel may be left empty). Like Enqueue
// it offers the call at once when an agent whose phone is registered is
// available; the offered event tells the node to ring the agent's phone.
// A call AnswerCall recorded is that contact, now queued: its place (rank)
// is its answer time's, its queued time now.
func (q *Queue) EnqueueCall(ctx context.Context, in Intake, call Call) (Receipt, error) {
	return q.enqueueCall(ctx, in, call, false)
}

func (q *Queue) enqueueCall(ctx context.Context, in Intake, call Call, held bool) (Receipt, error) {
	if in.Channel == "" {
		in.Channel = ChannelVoice
	}
	if in.Channel != ChannelVoice {
		return Receipt{}, fmt.Errorf("%w: a call is on channel voice, not %q", ErrInvalid, in.Channel)
	}
	if call.ID == "" || call.Node == "" {
		return Receipt{}, fmt.Errorf("%w: a call needs its Call-ID and node", ErrInvalid)
	}
	return q.enqueue(ctx, in, callKey(call.ID), call.Node, call.ID, held)
}

// callKey is the idempotency key of a call's contact.
func callKey(id string) string {
	if len(id) > 128 { // the key lives a week: keep it short
		sum := sha256.Sum256([]byte(id))
		return "call:sha256:" + hex.EncodeToString(sum[:])
	}
	return "call:" + id
}

// HangupResult says what a hang-up did.
type HangupResult struct {
	// Outcome is "abandoned" (the caller left before an answer), "ended"
	// (the talk is over; wrap-up pending), "already" (nothing to do: the
	// call was over before), "gone" (the caller left in the welcome or the
	// menu: the contact AnswerCall made is dropped) or "callback" (the node
	// ended a call in the welcome or the menu, by other than the caller: it
	// is a callback contact now).
	Outcome string
	// Agent whose offer was rescinded (abandoned) or who holds the contact.
	Agent string
}

// Hangup records that a leg of call tn hung up; by says which (caller,
// agent, media_timeout, …). Waiting or ringing, the caller abandoned: an open
// offer is rescinded (reason abandoned, no miss counted, the agent free for
// the next contact), the contact leaves every queue it waits in and closes
// with outcome abandoned (EventRescinded to the agent, then EventClosed with
// no agent). Answered, the talk ends and the contact waits for the agent's
// wrap-up (EventEnded, as End). A call already over changes nothing. Not
// queued yet (StateIVR), a caller's hang-up drops the contact (outcome gone:
// no event, not counted, as a call never queued was not before AnswerCall);
// any other leg's (shutdown, media_timeout) makes it a callback contact in
// its line's queue, as the node's death would.
func (q *Queue) Hangup(ctx context.Context, tn, by string) (HangupResult, error) {
	if by == "" {
		return HangupResult{}, fmt.Errorf("%w: hang-up of %s: say which leg hung up", ErrInvalid, tn)
	}
	res, err := q.run(ctx, q.s.hangup, tn, by, q.nowMs()).StringSlice()
	if err != nil {
		return HangupResult{}, scriptError(err)
	}
	return HangupResult{Outcome: res[0], Agent: res[1]}, nil
}

// CallHold puts the answered call tn on hold (on) or takes it off; the time
// on hold adds up in the contact's HoldSeconds. Repeating either is harmless.
func (q *Queue) CallHold(ctx context.Context, tn string, on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	return scriptError(q.run(ctx, q.s.hold, tn, v, q.nowMs()).Err())
}

// SetPhone records that agent's SIP phone is registered until until (the
// registrar calls it on every REGISTER; zero or past: unregistered). Calls
// are offered only to agents whose phone is registered; a registration runs
// out by itself. An agent with no phone still takes letters and messages.
func (q *Queue) SetPhone(ctx context.Context, agent string, until time.Time) error {
	if agent == "" || strings.ContainsAny(agent, ":{} ") {
		return fmt.Errorf("%w: bad agent id %q", ErrInvalid, agent)
	}
	var ms int64
	if !until.IsZero() {
		ms = until.UnixMilli()
	}
	return scriptError(q.run(ctx, q.s.phone, agent, ms, q.nowMs()).Err())
}

// Phone returns until when agent's phone is registered: zero if it is not.
func (q *Queue) Phone(ctx context.Context, agent string) (time.Time, error) {
	s, err := q.rdb.HGet(ctx, q.key("a", agent), "phone").Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("queue: phone of %s: %w", agent, err)
	}
	if t := msTime(s); t != nil && t.After(q.o.Now()) {
		return *t, nil
	}
	return time.Time{}, nil
}

// Position returns the place of waiting contact tn among the contacts
// waiting in its queue on its channel (1 is next; higher priorities count
// ahead), or 0 when it waits no longer.
func (q *Queue) Position(ctx context.Context, tn string) (int, error) {
	n, err := q.run(ctx, q.s.position, tn).Int()
	if err != nil {
		return 0, scriptError(err)
	}
	return n, nil
}

// recentWaits is how many answer waits per queue ExpectedWait looks at.
const recentWaits = 50

// ExpectedWait estimates how long a caller joining queue name now waits for
// an answer: the median of the queue's last 50 answer waits (queued until
// the agent's phone answered), but never less than the caller at the head
// of the queue has already waited, since a backlog that is not moving makes
// recent answers too hopeful. With no answers yet it is that head's wait, and
// 0 when nobody waits. Two cheap reads, meant to be called every few seconds
// per waiting caller.
func (q *Queue) ExpectedWait(ctx context.Context, name string) (time.Duration, error) {
	if _, ok := q.queues[name]; !ok {
		return 0, fmt.Errorf("%w: unknown queue %q", ErrInvalid, name)
	}
	pipe := q.rdb.Pipeline()
	waits := pipe.LRange(ctx, q.key("aw", name), 0, recentWaits-1)
	head := pipe.ZRangeWithScores(ctx, q.key("wt", name), 0, 0)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("queue: expected wait of %s: %w", name, err)
	}
	var est time.Duration
	if v := waits.Val(); len(v) > 0 {
		ms := make([]int64, 0, len(v))
		for _, s := range v {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				ms = append(ms, n)
			}
		}
		slices.Sort(ms)
		if len(ms) > 0 {
			est = time.Duration(ms[len(ms)/2]) * time.Millisecond
		}
	}
	if h := head.Val(); len(h) > 0 {
		if waited := q.o.Now().Sub(time.UnixMilli(int64(h[0].Score))); waited > est {
			est = waited
		}
	}
	return est, nil
}

// CallCounts are one queue's calls: live ones by state, and running totals.
type CallCounts struct {
	// Live calls: answered and in the welcome or menu (not queued yet),
	// caller waiting, agent's phone ringing, in talk.
	IVR     int64 `json:"ivr"`
	Waiting int64 `json:"waiting"`
	Ringing int64 `json:"ringing"`
	Talking int64 `json:"talking"`
	// Totals since the data began: answered, abandoned before an answer,
	// turned into callbacks when their node died.
	Answered  int64 `json:"answered"`
	Abandoned int64 `json:"abandoned"`
	Callbacks int64 `json:"callbacks"`
	// IVRResolved counts callers whose question the hot-topic answer
	// settled (当场解答 by the IVR), never queued.
	IVRResolved int64 `json:"ivr_resolved"`
	// Requeues counts calls in talk sent back to the queue by Requeue.
	Requeues int64 `json:"requeues"`
}

// CallStats gives the calls of every known queue (one read). Totals are the
// sum over queues.
func (q *Queue) CallStats(ctx context.Context) (map[string]CallCounts, error) {
	f, err := q.rdb.HGetAll(ctx, q.key("callstats")).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: call stats: %w", err)
	}
	out := make(map[string]CallCounts, len(q.queues))
	for name := range q.queues {
		out[name] = CallCounts{}
	}
	for k, v := range f {
		name, what, ok := strings.Cut(k, ":")
		c, known := out[name]
		if !ok || !known {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch what {
		case "ivr":
			c.IVR = n
		case "waiting":
			c.Waiting = n
		case "ringing":
			c.Ringing = n
		case "talking":
			c.Talking = n
		case "answered":
			c.Answered = n
		case "abandoned":
			c.Abandoned = n
		case "callbacks":
			c.Callbacks = n
		case "ivr_resolved":
			c.IVRResolved = n
		case "requeues":
			c.Requeues = n
		}
		out[name] = c
	}
	return out, nil
}

// RecoverCalls is for a node starting: the calls this node id held in an
// earlier run lost their media with that process, so they are handled as a
// dead node's calls are (a caller waiting or ringing becomes a callback
// contact at its place; a talk ends, wrap-up pending). A node that restarts
// within NodeTTL is never found dead, so it must call this before it takes
// calls. Returns how many calls there were.
func (q *Queue) RecoverCalls(ctx context.Context) (int, error) {
	n, err := q.run(ctx, q.s.lostcalls, q.o.NodeID, q.nowMs()).Int()
	if err != nil {
		return 0, fmt.Errorf("queue: recover calls: %w", err)
	}
	return n, nil
}

// LoseCall is for a node that finds call tn among its calls in Redis
// (Calls) while it holds no such call any more (its hang-up or its set-up's
// failure was never recorded: Redis away, the reply lost): it is handled as
// a dead node's call is (see RecoverCalls). Nothing happens, and false is
// returned, when this node no longer holds tn in Redis either.
func (q *Queue) LoseCall(ctx context.Context, tn string) (bool, error) {
	n, err := q.run(ctx, q.s.lostcalls, q.o.NodeID, q.nowMs(), tn).Int()
	if err != nil {
		return false, fmt.Errorf("queue: lose call %s: %w", tn, err)
	}
	return n == 1, nil
}

// CallID returns the SIP Call-ID of call contact tn ("" if it has none).
func (q *Queue) CallID(ctx context.Context, tn string) (string, error) {
	id, err := q.rdb.HGet(ctx, q.key("c", tn), "call").Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("queue: call of %s: %w", tn, err)
	}
	return id, nil
}

// Calls lists the tracking numbers of the live calls node holds.
func (q *Queue) Calls(ctx context.Context, node string) ([]string, error) {
	tns, err := q.rdb.SMembers(ctx, q.key("calls", node)).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: calls of %s: %w", node, err)
	}
	slices.Sort(tns)
	return tns, nil
}
