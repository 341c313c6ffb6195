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
