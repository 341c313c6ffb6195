package agentdesk

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Who may see what: an agent opens the attachments of contacts it holds,
// is offered, or once held; a supervisor opens any. Holding is recorded
// per agent in Redis (a set under the agentdesk namespace) when the agent
// accepts a contact or its desk is given one it holds.

// heldFor is how long an agent may still open the attachments of a contact
// it once held.
const heldFor = 90 * 24 * time.Hour

func (s *Server) heldKey(agent string) string { return s.ns + "held:" + agent }

// remember records that agent holds contact tn. The records of the accepts
// that come while one batch is being written go together in the next: one
// round trip for many desks under load, and each caller still returns only
// once its record is written (or failed, which is logged).
func (s *Server) remember(ctx context.Context, agent, tn string) {
	b := &s.held
	b.mu.Lock()
	if b.next == nil {
		b.next = &heldBatch{done: make(chan struct{})}
	}
	batch := b.next
	batch.items = append(batch.items, [2]string{agent, tn})
	if !b.writing {
		b.writing = true
		go s.writeHeld()
	}
	b.mu.Unlock()
	select {
	case <-batch.done:
	case <-ctx.Done():
	}
}

// heldBatcher gathers remember's records (heldBatch) while one is written.
type heldBatcher struct {
	mu      sync.Mutex
	next    *heldBatch
	writing bool
}

type heldBatch struct {
	items [][2]string // agent, tracking number
	done  chan struct{}
}

// writeHeld writes batches until none is waiting.
func (s *Server) writeHeld() {
	b := &s.held
	for {
		b.mu.Lock()
		batch := b.next
		b.next = nil
		if batch == nil {
			b.writing = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		pipe := s.rdb.TxPipeline()
		for _, it := range batch.items {
			pipe.SAdd(ctx, s.heldKey(it[0]), it[1])
			pipe.Expire(ctx, s.heldKey(it[0]), heldFor)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			for _, it := range batch.items {
				s.log.Warn("cannot record a held contact", zap.String("agent", it[0]), zap.String("contact", it[1]),
					zap.Error(err))
			}
		}
		cancel()
		close(batch.done)
	}
}

// mayOpen reports whether agent may open attachment sha of contact tn: the
// attachment must belong to the contact (its intake or a later message) and
// the contact be offered to, held by, or once held by the agent.
func (s *Server) mayOpen(ctx context.Context, agent, tn, sha string) (bool, error) {
	c, err := s.q.Contact(ctx, tn)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	if !hasAttachment(c.Attachments, sha) {
		if c.MessageCount == 0 {
			return false, nil
		}
		msgs, err := s.q.Messages(ctx, tn)
		if err != nil {
			return false, err
		}
		if !slices.ContainsFunc(msgs, func(m queue.Message) bool { return hasAttachment(m.Attachments, sha) }) {
			return false, nil
		}
	}
	if c.Agent == agent {
		return true, nil
	}
	return s.rdb.SIsMember(ctx, s.heldKey(agent), tn).Result()
}

func hasAttachment(as []queue.Attachment, sha string) bool {
	return slices.ContainsFunc(as, func(a queue.Attachment) bool { return a.SHA256 == sha })
}

// lookupGuard rate-limits the public lookup of contacts: each source
// address may look up lookupsPerMinute contacts a minute, and a tracking
// number with missesPerHour wrong phone digits in an hour is not looked up
// for the rest of the hour, from anywhere.
type lookupGuard struct {
	rdb    redis.UniversalClient
	prefix string // the deployment's prefix + "agentdesk:lookup:"
}

const (
	lookupsPerMinute = 30
	missesPerHour    = 10
)

// countLookup: KEYS address counter, misses of the tracking number; ARGV
// the address limit, its window (ms), the misses limit. Returns how long
// (ms) the lookup must wait, 0 to go on.
var countLookup = redis.NewScript(`
local m = tonumber(redis.call('GET', KEYS[2]) or '0')
if m >= tonumber(ARGV[3]) then return math.max(redis.call('PTTL', KEYS[2]), 1) end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return math.max(redis.call('PTTL', KEYS[1]), 1) end
return 0
`)

func (g *lookupGuard) allow(ctx context.Context, addr, tn string) (time.Duration, error) {
	ms, err := countLookup.Run(ctx, g.rdb, []string{g.prefix + "addr:" + addr, g.prefix + "miss:" + tn},
		lookupsPerMinute, time.Minute.Milliseconds(), missesPerHour).Int64()
	return time.Duration(ms) * time.Millisecond, err
}

// miss counts a lookup of tn that found nothing or had the wrong digits.
func (g *lookupGuard) miss(ctx context.Context, tn string) {
	k := g.prefix + "miss:" + tn
	pipe := g.rdb.TxPipeline()
	pipe.Incr(ctx, k)
	pipe.ExpireNX(ctx, k, time.Hour)
	_, _ = pipe.Exec(ctx)
}
