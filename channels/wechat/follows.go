package wechat

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Follows remembers which citizens unfollowed an account. WeChat takes no
// customer-service message for a citizen who no longer follows, so the
// unsubscribe event ends their reply window at once, on every node; a
// subscribe event (following again) forgets it.
type Follows interface {
	// Unfollowed records that openID left account at at; the record may be
	// forgotten after ttl (the reply window: by then it is closed anyway).
	Unfollowed(ctx context.Context, account, openID string, at time.Time, ttl time.Duration) error
	// Followed forgets that openID left account.
	Followed(ctx context.Context, account, openID string) error
	// UnfollowedAt returns when openID left account, the zero time if they
	// follow (as far as is known).
	UnfollowedAt(ctx context.Context, account, openID string) (time.Time, error)
}

// WithFollows shares who unfollowed through f [each node remembers its own].
func WithFollows(f Follows) Option {
	return func(c *Channel) error { c.follows = f; return nil }
}

// RedisFollows keeps unfollows in Redis under
// prefix+"wechat:left:"+account+":"+openID (Unix milliseconds).
type RedisFollows struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ Follows = (*RedisFollows)(nil)

// NewRedisFollows keeps unfollows in rdb under the deployment's key prefix
// (e.g. "{lianxin}:").
func NewRedisFollows(rdb redis.UniversalClient, prefix string) *RedisFollows {
	return &RedisFollows{rdb: rdb, prefix: prefix}
}

func (r *RedisFollows) key(account, openID string) string {
	return r.prefix + "wechat:left:" + account + ":" + openID
}

// Unfollowed implements Follows.
func (r *RedisFollows) Unfollowed(ctx context.Context, account, openID string, at time.Time, ttl time.Duration) error {
	return r.rdb.Set(ctx, r.key(account, openID), at.UnixMilli(), ttl).Err()
}

// Followed implements Follows.
func (r *RedisFollows) Followed(ctx context.Context, account, openID string) error {
	return r.rdb.Del(ctx, r.key(account, openID)).Err()
}

// UnfollowedAt implements Follows.
func (r *RedisFollows) UnfollowedAt(ctx context.Context, account, openID string) (time.Time, error) {
	v, err := r.rdb.Get(ctx, r.key(account, openID)).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, nil // not ours to judge: as if unknown
	}
	return time.UnixMilli(ms), nil
}

// memFollows is one node's own memory of unfollows, for a channel without
// a shared store.
type memFollows struct {
	mu   sync.Mutex
	left map[string]memLeft
}

type memLeft struct{ at, until time.Time }

var _ Follows = (*memFollows)(nil)

func newMemFollows() *memFollows { return &memFollows{left: map[string]memLeft{}} }

func (m *memFollows) Unfollowed(_ context.Context, account, openID string, at time.Time, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for k, l := range m.left { // forget the expired ones, so the map stays small
		if now.After(l.until) {
			delete(m.left, k)
		}
	}
	m.left[account+"\x00"+openID] = memLeft{at: at, until: now.Add(ttl)}
	return nil
}

func (m *memFollows) Followed(_ context.Context, account, openID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.left, account+"\x00"+openID)
	return nil
}

func (m *memFollows) UnfollowedAt(_ context.Context, account, openID string) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.left[account+"\x00"+openID]
	if !ok || time.Now().After(l.until) {
		return time.Time{}, nil
	}
	return l.at, nil
}
