package queue

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// QueueStats is one queue's live picture.
type QueueStats struct {
	Name     string `json:"name"`
	Title    string `json:"title,omitempty"`
	Priority int    `json:"priority"`
	Waiting  int64  `json:"waiting"`
	// OldestWait is how long the oldest waiting contact has waited, in seconds.
	OldestWait float64            `json:"oldest_wait_seconds"`
	Agents     map[AgentState]int `json:"agents"`
}

// Stats gives every queue's waiting count, oldest wait and agents (those
// with the queue's skill) by state.
func (q *Queue) Stats(ctx context.Context) ([]QueueStats, error) {
	defs := q.Queues()
	pipe := q.rdb.Pipeline()
	counts := make([]*redis.IntCmd, len(defs))
	heads := make([]*redis.ZSliceCmd, len(defs))
	for i, d := range defs {
		counts[i] = pipe.ZCard(ctx, q.key("wt", d.Name))
		heads[i] = pipe.ZRangeWithScores(ctx, q.key("wt", d.Name), 0, 0)
	}
	ids := pipe.SMembers(ctx, q.key("agents"))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("queue: stats: %w", err)
	}
	pipe = q.rdb.Pipeline()
	agents := make([]*redis.SliceCmd, len(ids.Val()))
	for i, id := range ids.Val() {
		agents[i] = pipe.HMGet(ctx, q.key("a", id), "skills", "dstate", "sess")
	}
	if len(agents) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("queue: stats: %w", err)
		}
	}
	now := q.o.Now()
	out := make([]QueueStats, len(defs))
	index := map[string]*QueueStats{}
	for i, d := range defs {
		s := QueueStats{Name: d.Name, Title: d.Title, Priority: d.Priority, Waiting: counts[i].Val(), Agents: map[AgentState]int{}}
		for _, st := range AgentStates {
			s.Agents[st] = 0
		}
		if h := heads[i].Val(); len(h) > 0 {
			s.OldestWait = now.Sub(time.UnixMilli(int64(h[0].Score))).Seconds()
		}
		out[i] = s
		index[d.Name] = &out[i]
	}
	for _, cmd := range agents {
		v := cmd.Val()
		skills, _ := v[0].(string)
		state, _ := v[1].(string)
		sess, _ := v[2].(string)
		if state == "" || sess == "" {
			state = string(AgentLoggedOut)
		}
		for _, kv := range strings.Split(skills, ",") {
			name, _, _ := strings.Cut(kv, "=")
			if s := index[name]; s != nil {
				s.Agents[AgentState(state)]++
			}
		}
	}
	return out, nil
}
