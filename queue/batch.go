package queue

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// reads gathers the reads many desks make at once (History, when a batch of
// offers reaches a node's desks) while one batch is in flight, and sends
// them together in the next: one round trip for many callers.
type reads struct {
	mu   sync.Mutex
	next *readBatch
	busy bool
}

type readBatch struct {
	cmds []redis.Cmder
	done chan struct{}
}

// batchRead runs cmd (a read) in the next batch and returns its error, or
// ctx's if ctx ends first (cmd is then not to be looked at).
func (q *Queue) batchRead(ctx context.Context, cmd redis.Cmder) error {
	r := &q.reads
	r.mu.Lock()
	if r.next == nil {
		r.next = &readBatch{done: make(chan struct{})}
	}
	b := r.next
	b.cmds = append(b.cmds, cmd)
	if !r.busy {
		r.busy = true
		go q.sendReads()
	}
	r.mu.Unlock()
	select {
	case <-b.done:
		return cmd.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sendReads sends batches until none waits.
func (q *Queue) sendReads() {
	r := &q.reads
	for {
		r.mu.Lock()
		b := r.next
		r.next = nil
		if b == nil {
			r.busy = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		pipe := q.rdb.Pipeline()
		for _, c := range b.cmds {
			_ = pipe.Process(ctx, c)
		}
		_, _ = pipe.Exec(ctx) // each command keeps its own error
		cancel()
		close(b.done)
	}
}

// calls gathers the script calls (functions) many goroutines make at once
// while a batch of them is in flight, and sends them together in the next:
// one round trip, one connection, one read and one write of Redis's for many
// callers (a node's desks accepting and wrapping up, its channels' intake).
// A lone call goes at once; under load, a call waits at most for the batch
// in flight, which Redis, one thread, would have served before it anyway.
// Each call keeps its own reply or error; a connection's error fails the
// calls of its batch, as it would have failed each on its own connection
// (go-redis sends a pipeline again as it sends a command again: the scripts
// are idempotent by themselves, or guarded, for that).
type calls struct {
	mu      sync.Mutex
	pending []*callBatch // to send, in order; the last one takes new calls
	busy    bool         // a goroutine is sending
}

type callBatch struct {
	cmds []*redis.Cmd
	ctxs []context.Context // each call's caller's
	done chan struct{}
}

// maxCallBatch bounds one batch: a batch's replies come back together, so a
// bigger one would hold its first callers for its last one's script.
const maxCallBatch = 64

// fcall calls function fn with the queue's keys and args in the next batch.
func (q *Queue) fcall(ctx context.Context, fn string, args []any) *redis.Cmd {
	all := make([]any, 0, 3+len(q.keys)+len(args))
	all = append(all, "fcall", fn, len(q.keys))
	for _, k := range q.keys {
		all = append(all, k)
	}
	all = append(all, args...)
	cmd := redis.NewCmd(ctx, all...)
	cmd.SetFirstKeyPos(3)
	c := &q.calls
	c.mu.Lock()
	n := len(c.pending)
	if n == 0 || len(c.pending[n-1].cmds) >= maxCallBatch {
		c.pending = append(c.pending, &callBatch{done: make(chan struct{})})
		n++
	}
	b := c.pending[n-1]
	b.cmds = append(b.cmds, cmd)
	b.ctxs = append(b.ctxs, ctx)
	if !c.busy {
		c.busy = true
		go q.sendCalls()
	}
	c.mu.Unlock()
	select {
	case <-b.done:
		return cmd
	case <-ctx.Done():
		// A call not sent yet will not be (sendCalls); one sent may still
		// run, its reply not waited for (as a call on its own connection).
		gone := redis.NewCmd(ctx, all...)
		gone.SetErr(ctx.Err())
		return gone
	}
}

// sendCalls sends batches until none waits.
func (q *Queue) sendCalls() {
	c := &q.calls
	for {
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.busy = false
			c.mu.Unlock()
			return
		}
		b := c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
		c.mu.Unlock()
		// A call whose caller gave up before it was sent is not sent, as
		// go-redis sends no command whose context has ended.
		send := b.cmds[:0:0]
		for i, cmd := range b.cmds {
			if err := b.ctxs[i].Err(); err != nil {
				cmd.SetErr(err)
				continue
			}
			send = append(send, cmd)
		}
		if len(send) > 0 {
			q.m.batch.Observe(float64(len(send)))
		}
		switch len(send) {
		case 0:
		case 1:
			_ = q.rdb.Process(context.Background(), send[0])
		default:
			pipe := q.rdb.Pipeline()
			for _, cmd := range send {
				_ = pipe.Process(context.Background(), cmd)
			}
			_, _ = pipe.Exec(context.Background()) // each command keeps its own error
		}
		close(b.done)
	}
}
