package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Command asks the node holding a call to do something with it (ring, hang
// up, hold, transfer, …: the types are the caller's). Another node (the one
// with the agent's desk, a supervisor's) sends it with SendCommand; the node
// named reads its commands with Commands.
type Command struct {
	// ID is the command's place in its node's stream, set when read.
	ID         string
	Type       string
	TrackingNo string
	Agent      string
	Args       map[string]string
}

// SendCommand appends c to node's command stream (capped at about
// Options.CommandsMaxLen entries).
func (q *Queue) SendCommand(ctx context.Context, node string, c Command) error {
	if node == "" || c.Type == "" {
		return fmt.Errorf("%w: a command needs a node and a type", ErrInvalid)
	}
	vals := []any{"type", c.Type, "contact", c.TrackingNo, "agent", c.Agent}
	if len(c.Args) > 0 {
		b, err := json.Marshal(c.Args)
		if err != nil {
			return fmt.Errorf("queue: encode command: %w", err)
		}
		vals = append(vals, "args", string(b))
	}
	err := q.rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.key("cmd", node), MaxLen: q.o.CommandsMaxLen, Approx: true,
		Values: vals}).Err()
	if err != nil {
		return fmt.Errorf("queue: command %s to %s: %w", c.Type, node, err)
	}
	return nil
}

// Commands reads this node's command stream and calls fn for each command,
// in order, until ctx ends. It starts after the last command it handled
// (a cursor stored in Redis after each one), so a restart neither replays nor
// skips a command; a node that never read starts at the stream's beginning.
// Redis errors are logged and retried.
func (q *Queue) Commands(ctx context.Context, fn func(Command)) error {
	key, cur := q.key("cmd", q.o.NodeID), q.key("cmdpos", q.o.NodeID)
	var last string
	for ctx.Err() == nil {
		pos, err := q.rdb.Get(ctx, cur).Result()
		if errors.Is(err, redis.Nil) {
			pos, err = "0-0", nil
		}
		if err == nil {
			last = pos
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		q.log.Warn("command cursor unavailable", zap.Error(err))
		sleep(ctx, 500*time.Millisecond)
	}
	if last == "" {
		return nil
	}
	// The cursor is saved even when fn ended ctx: the command was handled.
	save := context.WithoutCancel(ctx)
	return readStream(ctx, q, key, last, "commands", 0, nil, func(m redis.XMessage, _ struct{}) {
		c, ok := commandOf(m)
		if ok {
			fn(c)
		} else {
			q.log.Error("bad command skipped", zap.String("id", m.ID), zap.Any("fields", m.Values))
		}
		for {
			err := q.rdb.Set(save, cur, m.ID, 0).Err()
			if err == nil {
				return
			}
			q.log.Warn("saving the command cursor failed", zap.Error(err))
			if ctx.Err() != nil {
				return
			}
			sleep(ctx, 200*time.Millisecond)
		}
	})
}

// commandOf reads a command from its stream entry; false: not a command.
func commandOf(m redis.XMessage) (Command, bool) {
	c := Command{ID: m.ID}
	c.Type, _ = m.Values["type"].(string)
	c.TrackingNo, _ = m.Values["contact"].(string)
	c.Agent, _ = m.Values["agent"].(string)
	if a, _ := m.Values["args"].(string); a != "" {
		if err := json.Unmarshal([]byte(a), &c.Args); err != nil {
			return c, false
		}
	}
	return c, c.Type != ""
}

// PendingCommands calls fn for each command of this node's stream that
// Commands has not handled yet (after its cursor), oldest first, until fn
// returns false or none is left: what this node has been asked and will do
// next. A backlog is read a page at a time, however long it is.
func (q *Queue) PendingCommands(ctx context.Context, fn func(Command) bool) error {
	pos, err := q.rdb.Get(ctx, q.key("cmdpos", q.o.NodeID)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		pos = "0-0"
	case err != nil:
		return fmt.Errorf("queue: command cursor: %w", err)
	}
	const page = 100
	for {
		ms, err := q.rdb.XRangeN(ctx, q.key("cmd", q.o.NodeID), "("+pos, "+", page).Result()
		if err != nil {
			return fmt.Errorf("queue: pending commands: %w", err)
		}
		for _, m := range ms {
			if c, ok := commandOf(m); ok && !fn(c) {
				return nil
			}
		}
		if len(ms) < page {
			return nil
		}
		pos = ms[len(ms)-1].ID
	}
}
