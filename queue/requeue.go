package queue

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// EventRequeued: a call in talk went back to its queue at its old place
// because the agent's browser phone lost it (Reason: media_lost, desk_lost,
// shutdown; see Requeue). The node holding the call drops the agent's leg
// and plays hold audio; the agent's desk is told; the next offer rings the
// next agent.
const EventRequeued EventType = "requeued"

// Why a call in talk goes back to its queue (Requeue's reason, the agent's
// not-ready reason).
const (
	RequeueMediaLost = "media_lost" // the browser's media session did not come back (ICE restart failed)
	RequeueDeskLost  = "desk_lost"  // the agent's desk did not come back
	RequeueShutdown  = "shutdown"   // the node holding the agent's browser phone stops
)

// Requeue sends the call tn, in talk with agent, back to its queue at its
// old place (its rank and queued time kept): the agent's browser phone lost
// it, and the caller, still on the line, hears hold audio from the node
// holding the call until the next agent answers. The agent lets go of it and
// is set not ready with reason (no miss counted). The queue is dispatched at
// once. Emits EventRequeued. Refused (ErrWrongState) for anything but a call
// in talk, ErrNotYours when another agent holds it.
func (q *Queue) Requeue(ctx context.Context, agent, tn, reason string) error {
	switch reason {
	case RequeueMediaLost, RequeueDeskLost, RequeueShutdown:
	default:
		return fmt.Errorf("%w: requeue reason %q is not media_lost, desk_lost or shutdown", ErrInvalid, reason)
	}
	return scriptError(q.run(ctx, q.s.requeue, agent, tn, reason, q.nowMs()).Err())
}

// CallInTalk is a call an agent talks on, and the node holding its caller.
type CallInTalk struct {
	TrackingNo string
	Node       string
}

// CallsInTalk lists the calls agent holds whose caller is on the line and
// talking (a desk that comes back on another node takes them back).
func (q *Queue) CallsInTalk(ctx context.Context, agent string) ([]CallInTalk, error) {
	tns, err := q.rdb.SMembers(ctx, q.key("ah", agent)).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: calls of %s: %w", agent, err)
	}
	if len(tns) == 0 {
		return nil, nil
	}
	pipe := q.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(tns))
	for i, tn := range tns {
		cmds[i] = pipe.HMGet(ctx, q.key("c", tn), "ch", "cst", "cnode", "agent", "state")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("queue: calls of %s: %w", agent, err)
	}
	var out []CallInTalk
	for i, cmd := range cmds {
		v := cmd.Val()
		str := func(j int) string { s, _ := v[j].(string); return s }
		if str(0) == string(ChannelVoice) && str(1) == "talking" && str(2) != "" && str(3) == agent &&
			str(4) == string(StateAssigned) {
			out = append(out, CallInTalk{TrackingNo: tns[i], Node: str(2)})
		}
	}
	return out, nil
}
