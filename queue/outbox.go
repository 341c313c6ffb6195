package queue

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// Outbox is a durable list of jobs to be done once, by any node: an
// acknowledgement to send, a file to fetch. A job claimed by a node that
// dies before it is done comes due again when its lease ends, so nothing a
// channel promised the citizen is lost with a node.
type Outbox struct {
	q    *Queue
	name string
}

// Job is one claimed job.
type Job struct {
	ID      string
	Payload []byte
	// Tries counts the claims, this one included.
	Tries int
}

// Outbox returns the outbox called name (e.g. "mail-acks").
func (q *Queue) Outbox(name string) *Outbox { return &Outbox{q: q, name: name} }

// Put adds a job, due now.
func (o *Outbox) Put(ctx context.Context, payload []byte) (string, error) {
	id, err := o.q.once(ctx, o.q.s.outbox, "put", o.name, o.q.nowMs(), payload).Text()
	if err != nil {
		return "", fmt.Errorf("queue: outbox %s: put: %w", o.name, err)
	}
	return id, nil
}

// Claim leases up to n due jobs for lease; each must be Done or Retry'd
// before the lease ends, or it comes due again.
func (o *Outbox) Claim(ctx context.Context, n int, lease time.Duration) ([]Job, error) {
	res, err := o.q.once(ctx, o.q.s.outbox, "claim", o.name, o.q.nowMs(), n, lease.Milliseconds()).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("queue: outbox %s: claim: %w", o.name, err)
	}
	jobs := make([]Job, 0, len(res)/3)
	for i := 0; i+2 < len(res); i += 3 {
		tries, _ := strconv.Atoi(res[i+1])
		jobs = append(jobs, Job{ID: res[i], Tries: tries, Payload: []byte(res[i+2])})
	}
	return jobs, nil
}

// Retry makes a claimed job due again after wait.
func (o *Outbox) Retry(ctx context.Context, id string, wait time.Duration) error {
	return o.q.once(ctx, o.q.s.outbox, "retry", o.name, o.q.nowMs(), id, o.q.nowMs()+wait.Milliseconds()).Err()
}

// Done removes a job for good (done, or given up).
func (o *Outbox) Done(ctx context.Context, id string) error {
	return o.q.once(ctx, o.q.s.outbox, "done", o.name, o.q.nowMs(), id).Err()
}

// Serve claims due jobs one at a time and calls do for each until ctx ends;
// do must Done or Retry the job. An idle Serve looks again every poll, or
// at once when wake fires (a channel the caller signals after a Put).
// Claim errors are retried at the next poll.
func (o *Outbox) Serve(ctx context.Context, lease, poll time.Duration, wake <-chan struct{}, do func(context.Context, Job)) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for ctx.Err() == nil {
		jobs, err := o.Claim(ctx, 1, lease)
		if err != nil && ctx.Err() == nil {
			o.q.log.Warn("outbox jobs cannot be claimed", zap.String("outbox", o.name), zap.Error(err))
		}
		if len(jobs) == 0 {
			select {
			case <-ctx.Done():
			case <-wake:
			case <-t.C:
			}
			continue
		}
		for _, j := range jobs {
			do(ctx, j)
		}
	}
}
