package queue

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// EventTransferred: an agent handed a contact on to a queue or a named agent
// (Transfer). The node holding a call drops the agent's leg and plays hold
// audio; the next offer rings the next agent.
const EventTransferred EventType = "transferred"

// TransferTo says where Transfer hands a contact: exactly one of Queue and
// Agent.
type TransferTo struct {
	// Queue the contact waits in again.
	Queue string
	// Agent is offered the contact at once (rung like any offer, for a call).
	Agent string
	// Note is the transferring agent's note, shown with the next offer.
	Note string
	// Boost raises the contact's priority (0–9, capped at 9) above the
	// greater of its own and the target queue's; its age is kept.
	Boost int
	// BackToAgent: when the named Agent misses the offer, it is offered to the
	// transferring agent again; otherwise it stays in its queue.
	BackToAgent bool
}

// Transfer hands the contact tn that agent holds (state assigned) on to a
// queue or a named agent; see TransferTo. The agent is free of it at once.
// A call must still have its caller on the line.
func (q *Queue) Transfer(ctx context.Context, agent, tn string, to TransferTo) error {
	kind, target := "queue", to.Queue
	switch {
	case to.Queue != "" && to.Agent != "":
		return fmt.Errorf("%w: transfer to a queue or to an agent, not both", ErrInvalid)
	case to.Agent != "":
		kind, target = "agent", to.Agent
	case to.Queue == "":
		return fmt.Errorf("%w: transfer needs a queue or an agent", ErrInvalid)
	default:
		if _, ok := q.queues[to.Queue]; !ok {
			return fmt.Errorf("%w: unknown queue %q", ErrInvalid, to.Queue)
		}
	}
	if to.Boost < 0 || to.Boost > 9 {
		return fmt.Errorf("%w: priority boost %d is outside 0–9", ErrInvalid, to.Boost)
	}
	back := "queue"
	if to.BackToAgent {
		back = "agent"
	}
	floor := q.queues[to.Queue].Priority // 0 for a named agent: the contact keeps its queue
	return scriptError(q.run(ctx, q.s.transfer, agent, tn, kind, target, to.Note, to.Boost, back, q.nowMs(), floor).Err())
}

// Linkage transfer statuses (TransferInfo.Status).
const (
	TransferPending   = "pending"   // the push is in the outbox
	TransferRetrying  = "retrying"  // the target did not acknowledge yet
	TransferDelivered = "delivered" // the target acknowledged (2xx)
	TransferFailed    = "failed"    // given up
)

// TransferInfo is a contact's transfer to an emergency line (110, 119, 120,
// 122): where it went and whether the push of its data was acknowledged.
type TransferInfo struct {
	To     string `json:"to"`
	Status string `json:"status"`
	// Target is the SIP URI the call was bridged to ("" for a text contact).
	Target string `json:"target,omitempty"`
	// Tries counts the push's attempts so far.
	Tries int `json:"tries,omitempty"`
	// Error is the last failure, for the desk.
	Error string `json:"error,omitempty"`
}

// MarkTransfer records that contact tn is being transferred to line to
// (status pending). It reports false when the contact was marked before (a
// retry): its push is under way already and must not be made twice.
func (q *Queue) MarkTransfer(ctx context.Context, tn, to, target string) (bool, error) {
	key := q.key("c", tn)
	n, err := q.rdb.Exists(ctx, key).Result()
	if err != nil {
		return false, fmt.Errorf("queue: mark transfer of %s: %w", tn, err)
	}
	if n == 0 {
		return false, fmt.Errorf("%w: no contact %s", ErrNotFound, tn)
	}
	first, err := q.rdb.HSetNX(ctx, key, "xto", to).Result()
	if err != nil {
		return false, fmt.Errorf("queue: mark transfer of %s: %w", tn, err)
	}
	if !first {
		return false, nil
	}
	if err := q.rdb.HSet(ctx, key, "xstatus", TransferPending, "xtarget", target).Err(); err != nil {
		return false, fmt.Errorf("queue: mark transfer of %s: %w", tn, err)
	}
	return true, nil
}

// SetTransferStatus records how the push of contact tn's transfer went.
func (q *Queue) SetTransferStatus(ctx context.Context, tn, status string, tries int, errText string) error {
	err := q.rdb.HSet(ctx, q.key("c", tn), "xstatus", status, "xtries", strconv.Itoa(tries), "xerr", errText).Err()
	if err != nil && err != redis.Nil {
		return fmt.Errorf("queue: transfer status of %s: %w", tn, err)
	}
	return nil
}

func transferFromFields(c *Contact, f map[string]string) {
	c.TransferNote, c.TransferredBy = f["xnote"], f["xfrom"]
	if f["xto"] == "" {
		return
	}
	tries, _ := strconv.Atoi(f["xtries"])
	c.Transfer = &TransferInfo{To: f["xto"], Status: f["xstatus"], Target: f["xtarget"], Tries: tries, Error: f["xerr"]}
}

// RequestCallback turns waiting caller tn into a callback contact at the
// same place in its queues (priority and age kept): the caller pressed the
// callback key in the hold loop and hangs up. An agent who takes it is
// connected by a call the gateway places to phone (E.164). Asked again, it
// only changes the number. A ringing offer is rescinded without a miss.
func (q *Queue) RequestCallback(ctx context.Context, tn, phone string) error {
	if phone == "" {
		return fmt.Errorf("%w: a callback needs a number", ErrInvalid)
	}
	return scriptError(q.run(ctx, q.s.callback, tn, phone, q.nowMs()).Err())
}

// ParkCallback frees agent of callback contact tn, which the gateway could
// not complete now (no answer, quiet hours), and takes it out of the queues
// until UnparkCallback puts it back at its old place. note (e.g. "回拨未接通")
// is shown with the next offer. It returns the attempts so far.
// A park for quiet hours (attempt false) counts no attempt.
func (q *Queue) ParkCallback(ctx context.Context, agent, tn, note string, attempt bool) (int, error) {
	action := "park"
	if !attempt {
		action = "quiet"
	}
	n, err := q.run(ctx, q.s.cbpark, agent, tn, note, q.nowMs(), action).Int()
	return n, scriptError(err)
}

// FailCallback closes callback contact tn that agent holds with outcome
// callback_failed: the citizen did not answer, as often as allowed.
func (q *Queue) FailCallback(ctx context.Context, agent, tn, note string) error {
	return scriptError(q.run(ctx, q.s.cbpark, agent, tn, note, q.nowMs(), "fail").Err())
}

// UnparkCallback puts a parked callback back at its old place in its
// queue. Repeating it is harmless.
func (q *Queue) UnparkCallback(ctx context.Context, tn string) error {
	return scriptError(q.run(ctx, q.s.cbunpark, tn, q.nowMs()).Err())
}

// EventLineTransfer is a step of a call's transfer to an emergency line
// (110, 119, 120, 122), told by the node holding the call to the agent who
// asked it (LineTransferStep): Event.Line says which.
const EventLineTransfer EventType = "line_transfer"

// The states of a transfer to an emergency line (LineStep.State).
const (
	LineCalling   = "calling"   // the line is being called
	LineConnected = "connected" // the caller talks to the line; the contact closes transferred_<line>
	LineFailed    = "failed"    // not done (LineStep.Reason): a blind transfer's caller waits in the queue again, a warm one's still talks to the agent
	LineRefused   = "refused"   // the request did nothing (LineStep.Reason): whatever went on with the call goes on
)

// LineStep is a step of a call's transfer to an emergency line.
type LineStep struct {
	To     string `json:"to"`               // the line: 110, 119, 120 or 122
	Mode   string `json:"mode"`             // blind or warm
	State  string `json:"state"`            // LineCalling, LineConnected, LineFailed or LineRefused
	Reason string `json:"reason,omitempty"` // why it failed or was refused
}

// LineTransferStep tells agent, through the event stream, how the transfer
// of call tn to an emergency line that they asked goes: the node holding the
// call does the transfer, and the agent's desk may be on another node.
func (q *Queue) LineTransferStep(ctx context.Context, agent, tn string, step LineStep) error {
	err := q.rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.key("events"), MaxLen: q.o.EventsMaxLen, Approx: q.o.EventsMaxLen > 0,
		Values: []string{"type", string(EventLineTransfer), "agent", agent, "contact", tn, "node", q.o.NodeID,
			"to", step.To, "mode", step.Mode, "state", step.State, "reason", step.Reason}}).Err()
	if err != nil {
		return fmt.Errorf("queue: line transfer step: %w", err)
	}
	return nil
}
