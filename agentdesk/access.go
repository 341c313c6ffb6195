package agentdesk

import (
	"context"
	"errors"
	"slices"
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

// remember records that agent holds contact tn.
func (s *Server) remember(ctx context.Context, agent, tn string) {
	pipe := s.rdb.TxPipeline()
	pipe.SAdd(ctx, s.heldKey(agent), tn)
	pipe.Expire(ctx, s.heldKey(agent), heldFor)
	if _, err := pipe.Exec(ctx); err != nil {
		s.log.Warn("cannot record a held contact", zap.String("agent", agent), zap.String("contact", tn), zap.Error(err))
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
