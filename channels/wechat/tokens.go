package wechat

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// TokenStore shares access tokens between the nodes of a deployment. WeChat
// invalidates an app's previous token five minutes after a new one is
// issued, so nodes that each fetched their own would keep invalidating one
// another (and use up the app's daily fetches).
type TokenStore interface {
	// Token returns the shared token of an account, or "" when there is none.
	Token(ctx context.Context, account string) (token string, expires time.Time, err error)
	// SetToken shares a token until it expires.
	SetToken(ctx context.Context, account, token string, expires time.Time) error
}

// WithTokenStore shares access tokens through ts [each node keeps its own].
func WithTokenStore(ts TokenStore) Option {
	return func(c *Channel) error {
		for _, a := range c.accounts {
			a.api.store = ts
		}
		return nil
	}
}

// RedisTokens keeps access tokens in Redis, under prefix+"wechat:token:"+account.
type RedisTokens struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ TokenStore = (*RedisTokens)(nil)

// NewRedisTokens returns a token store in rdb; prefix is the deployment's
// key prefix (e.g. "{lianxin}:").
func NewRedisTokens(rdb redis.UniversalClient, prefix string) *RedisTokens {
	return &RedisTokens{rdb: rdb, prefix: prefix}
}

func (r *RedisTokens) key(account string) string { return r.prefix + "wechat:token:" + account }

// Token implements TokenStore.
func (r *RedisTokens) Token(ctx context.Context, account string) (string, time.Time, error) {
	pipe := r.rdb.Pipeline()
	get := pipe.Get(ctx, r.key(account))
	ttl := pipe.PTTL(ctx, r.key(account))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return "", time.Time{}, err
	}
	tok := get.Val()
	if tok == "" || ttl.Val() <= 0 {
		return "", time.Time{}, nil
	}
	return tok, time.Now().Add(ttl.Val()), nil
}

// SetToken implements TokenStore.
func (r *RedisTokens) SetToken(ctx context.Context, account, token string, expires time.Time) error {
	ttl := time.Until(expires)
	if ttl <= 0 {
		return nil
	}
	return r.rdb.Set(ctx, r.key(account), token, ttl).Err()
}
