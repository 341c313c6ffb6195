package queue

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	deadlineOnce   sync.Once
	deadlineScript *redis.Script
)

// SetOfferDeadline moves the deadline of contact tn's open offer to agent:
// the offer then expires (back to its place in the queue, a miss for the
// agent) at deadline instead. A call ringing an agent's browser phone rings
// for its own time (sip.ring_timeout_browser). ErrNotFound when there is no
// such contact, ErrWrongState when it is not offered to agent (it was
// answered, rescinded or offered to someone else meanwhile).
func (q *Queue) SetOfferDeadline(ctx context.Context, agent, tn string, deadline time.Time) error {
	deadlineOnce.Do(func() {
		body, err := luaFS.ReadFile("lua/offer_deadline.lua")
		if err != nil {
			panic("queue: offer_deadline.lua is embedded: " + err.Error())
		}
		deadlineScript = redis.NewScript(string(body))
	})
	return scriptError(q.run(ctx, deadlineScript, tn, agent, deadline.UnixMilli()).Err())
}
