package sms

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// memo keeps small facts the SMS channel needs later, on any node: which
// provider a contact's SMS came through (to answer on it), and which parts
// of an outbox job were already sent (so a retry sends only the rest).
type memo interface {
	get(ctx context.Context, k string) (string, error)
	set(ctx context.Context, k, v string, ttl time.Duration) error
}

var (
	_ memo = (*memMemo)(nil)
	_ memo = (*redisMemo)(nil)
)

// memMemo is a memo in this node's memory, forgetting the oldest beyond max.
type memMemo struct {
	mu   sync.Mutex
	max  int
	m    map[string]memoEntry
	ring []string
	next int
}

type memoEntry struct {
	v   string
	exp time.Time
}

func newMemMemo(max int) *memMemo {
	return &memMemo{max: max, m: map[string]memoEntry{}, ring: make([]string, max)}
}

func (m *memMemo) get(_ context.Context, k string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[k]
	if !ok || time.Now().After(e.exp) {
		return "", nil
	}
	return e.v, nil
}

func (m *memMemo) set(_ context.Context, k, v string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[k]; !ok {
		if old := m.ring[m.next]; old != "" {
			delete(m.m, old)
		}
		m.ring[m.next] = k
		m.next = (m.next + 1) % m.max
	}
	m.m[k] = memoEntry{v: v, exp: time.Now().Add(ttl)}
	return nil
}

// redisMemo is a memo in Redis under prefix + "smsm:".
type redisMemo struct {
	rdb    redis.UniversalClient
	prefix string
}

func (r *redisMemo) get(ctx context.Context, k string) (string, error) {
	v, err := r.rdb.Get(ctx, r.prefix+"smsm:"+k).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return v, err
}

func (r *redisMemo) set(ctx context.Context, k, v string, ttl time.Duration) error {
	return r.rdb.Set(ctx, r.prefix+"smsm:"+k, v, ttl).Err()
}
