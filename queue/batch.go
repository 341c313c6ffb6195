package queue

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// batcher gathers the commands many goroutines give it at once while a
// batch of them is in flight, and sends them together in the next: one
// round trip, one connection, one read and one write of Redis's for many
// callers. A lone command goes at once; under load, a command waits at most
// for the batch in flight, which Redis, one thread, would have served before
// it anyway. Each command keeps its own reply or error; a connection's error
// fails the commands of its batch, as it would have failed each on its own
// connection (go-redis sends a pipeline again as it sends a command again).
// A node has two: its desks' history reads (History, when a batch of offers
// reaches its desks) and its script calls (the desks' accepts and wrap-ups,
// the channels' intake: the scripts are idempotent by themselves, or
// guarded, for go-redis's second sends).
type batcher struct {
	mu      sync.Mutex
	pending []*batch // to send, in order; the last one takes new commands
	busy    bool     // a goroutine is sending
	// observe, if set, is told the size of each batch sent.
	observe func(n int)
}

type batch struct {
	cmds []redis.Cmder
	ctxs []context.Context // each command's caller's
	done chan struct{}
}

// maxBatch bounds one batch: a batch's replies come back together, so a
// bigger one would hold its first callers for its last one's command.
const maxBatch = 64

// do runs cmd in the next batch on rdb and says whether it was answered: if
// ctx ends first, it returns false and cmd is not to be looked at (a command
// not sent by then is not sent; one sent may still run, its reply not waited
// for, as a command on its own connection).
func (b *batcher) do(ctx context.Context, rdb redis.UniversalClient, cmd redis.Cmder) bool {
	b.mu.Lock()
	n := len(b.pending)
	if n == 0 || len(b.pending[n-1].cmds) >= maxBatch {
		b.pending = append(b.pending, &batch{done: make(chan struct{})})
		n++
	}
	bt := b.pending[n-1]
	bt.cmds = append(bt.cmds, cmd)
	bt.ctxs = append(bt.ctxs, ctx)
	if !b.busy {
		b.busy = true
		go b.send(rdb)
	}
	b.mu.Unlock()
	select {
	case <-bt.done:
		return true
	case <-ctx.Done():
		return false
	}
}

// send sends batches until none waits.
func (b *batcher) send(rdb redis.UniversalClient) {
	for {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.busy = false
			b.mu.Unlock()
			return
		}
		bt := b.pending[0]
		b.pending[0] = nil
		b.pending = b.pending[1:]
		b.mu.Unlock()
		// A command whose caller gave up before it was sent is not sent, as
		// go-redis sends no command whose context has ended.
		send := bt.cmds[:0:0]
		for i, cmd := range bt.cmds {
			if err := bt.ctxs[i].Err(); err != nil {
				cmd.SetErr(err)
				continue
			}
			send = append(send, cmd)
		}
		if len(send) > 0 && b.observe != nil {
			b.observe(len(send))
		}
		switch len(send) {
		case 0:
		case 1:
			_ = rdb.Process(context.Background(), send[0])
		default:
			pipe := rdb.Pipeline()
			for _, cmd := range send {
				_ = pipe.Process(context.Background(), cmd)
			}
			// Each command keeps its own error. But go-redis (v9.17) leaves
			// a pipeline's commands with neither reply nor error when its
			// retries on a broken connection run out
			// (generalProcessPipeline): such a command failed with the
			// pipeline, whatever Redis did of it (as Queue.acked does for
			// its own pipeline).
			if _, err := pipe.Exec(context.Background()); err != nil {
				for _, cmd := range send {
					if c, ok := cmd.(*redis.Cmd); ok && c.Err() == nil && c.Val() == nil {
						c.SetErr(err)
					}
				}
			}
		}
		close(bt.done)
	}
}

// batchRead runs cmd (a read) in the next batch of reads and returns its
// error, or ctx's if ctx ends first (cmd is then not to be looked at).
func (q *Queue) batchRead(ctx context.Context, cmd redis.Cmder) error {
	if !q.reads.do(ctx, q.rdb, cmd) {
		return ctx.Err()
	}
	return cmd.Err()
}

// fcall calls function fn with the queue's keys and args in the next batch
// of script calls.
func (q *Queue) fcall(ctx context.Context, fn string, args []any) *redis.Cmd {
	all := make([]any, 0, 3+len(q.keys)+len(args))
	all = append(all, "fcall", fn, len(q.keys))
	for _, k := range q.keys {
		all = append(all, k)
	}
	all = append(all, args...)
	cmd := redis.NewCmd(ctx, all...)
	cmd.SetFirstKeyPos(3)
	if !q.calls.do(ctx, q.rdb, cmd) {
		cmd = redis.NewCmd(ctx, all...)
		cmd.SetErr(ctx.Err())
	}
	return cmd
}
