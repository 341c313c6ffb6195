package email

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Threads remembers the Message-ID of each contact's latest letter, so
// that a reply goes out In-Reply-To it and threads in the citizen's mail
// client. (queue.Intake has no field for a provider's message id.)
type Threads interface {
	Put(ctx context.Context, tn, messageID string) error
	// Get returns "" and no error when nothing is known.
	Get(ctx context.Context, tn string) (string, error)
}

// RedisThreads keeps threads in Redis under prefix+"mail:thread:"+tn.
type RedisThreads struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

var _ Threads = (*RedisThreads)(nil)

// NewRedisThreads keeps threads in rdb under the deployment's key prefix
// (e.g. "{lianxin}:", so they sit in the queue's hash slot) for ttl.
func NewRedisThreads(rdb redis.UniversalClient, prefix string, ttl time.Duration) *RedisThreads {
	return &RedisThreads{rdb: rdb, prefix: prefix, ttl: ttl}
}

// Put records messageID as tn's latest letter.
func (t *RedisThreads) Put(ctx context.Context, tn, messageID string) error {
	if err := t.rdb.Set(ctx, t.prefix+"mail:thread:"+tn, messageID, t.ttl).Err(); err != nil {
		return fmt.Errorf("email: thread of %s: %w", tn, err)
	}
	return nil
}

// Get returns tn's latest Message-ID.
func (t *RedisThreads) Get(ctx context.Context, tn string) (string, error) {
	id, err := t.rdb.Get(ctx, t.prefix+"mail:thread:"+tn).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("email: thread of %s: %w", tn, err)
	}
	return id, nil
}
