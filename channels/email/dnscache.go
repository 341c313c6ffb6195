package email

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// dnsCache answers the sender checks' DNS questions (SPF's, DMARC's, DKIM
// keys') from memory for a while, and asks the resolver once for many
// letters asking the same at once. A hotline's letters come from a few
// providers' domains (qq.com, 163.com, …): without it every letter asks the
// same questions again, and a flood of letters becomes a flood of DNS
// queries that a resolver may drop, each drop a letter waiting out
// DNSTimeout while it holds one of MaxReceiving's places.
//
// An answer is kept for ttl, "no such name" for negTTL; an error that may
// pass (a timeout, a server failure) is never kept. Go's resolver does not
// give the records' own TTLs, so ttl caps them all (SPF and DMARC records
// are changed seldom and published with TTLs of minutes to hours). At most
// max names are kept: when full, expired answers go, then arbitrary ones.
// Hand-written: the maintained Go caches (rs/dnscache) keep host addresses
// only, and a caching resolver of its own is more than the checks need.
type dnsCache struct {
	r           Resolver
	ttl, negTTL time.Duration
	timeout     time.Duration // of a lookup, whoever waits for it
	max         int
	now         func() time.Time
	flight      singleflight.Group

	mu sync.Mutex
	m  map[string]dnsAnswer
}

type dnsAnswer struct {
	val   any
	err   error
	until time.Time
}

func newDNSCache(r Resolver, ttl, timeout time.Duration, max int, now func() time.Time) *dnsCache {
	return &dnsCache{r: r, ttl: ttl, negTTL: min(ttl, time.Minute), timeout: timeout, max: max, now: now,
		m: map[string]dnsAnswer{}}
}

var _ Resolver = (*dnsCache)(nil)

func (c *dnsCache) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return cached(c, ctx, "TXT "+name, func(ctx context.Context) ([]string, error) { return c.r.LookupTXT(ctx, name) })
}

func (c *dnsCache) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return cached(c, ctx, "MX "+name, func(ctx context.Context) ([]*net.MX, error) { return c.r.LookupMX(ctx, name) })
}

func (c *dnsCache) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	return cached(c, ctx, "IP "+host, func(ctx context.Context) ([]net.IPAddr, error) { return c.r.LookupIPAddr(ctx, host) })
}

func (c *dnsCache) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return cached(c, ctx, "PTR "+addr, func(ctx context.Context) ([]string, error) { return c.r.LookupAddr(ctx, addr) })
}

// cached answers key from the cache, or by lookup (one at a time per key:
// callers asking meanwhile share its answer, each waiting no longer than
// its own ctx; the lookup itself runs for the cache's timeout, whichever
// caller started it and whenever that caller stops waiting). The slices
// handed out are shared: callers only read them.
func cached[T any](c *dnsCache, ctx context.Context, key string, lookup func(context.Context) (T, error)) (T, error) {
	if a, ok := c.fresh(key); ok {
		v, _ := a.val.(T)
		return v, a.err
	}
	ch := c.flight.DoChan(key, func() (any, error) {
		// A lookup that ended between this caller's look at the cache
		// and its joining the flight has left its answer there.
		if a, ok := c.fresh(key); ok {
			return a.val, a.err
		}
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		v, err := lookup(lctx)
		c.keep(key, v, err)
		return v, err
	})
	select {
	case r := <-ch:
		v, _ := r.Val.(T)
		return v, r.Err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// fresh is key's kept answer, if its time is not over.
func (c *dnsCache) fresh(key string) (dnsAnswer, bool) {
	c.mu.Lock()
	a, ok := c.m[key]
	c.mu.Unlock()
	return a, ok && c.now().Before(a.until)
}

// keep stores an answer: records for ttl, "no such name" for negTTL, and
// nothing for an error that may pass.
func (c *dnsCache) keep(key string, v any, err error) {
	ttl := c.ttl
	if err != nil {
		var de *net.DNSError
		if !errors.As(err, &de) || !de.IsNotFound {
			return
		}
		ttl = c.negTTL
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, a := range c.m {
			if !now.Before(a.until) {
				delete(c.m, k)
			}
		}
		for k := range c.m { // still full: any tenth go
			if len(c.m) < c.max-c.max/10 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = dnsAnswer{val: v, err: err, until: now.Add(ttl)}
}

// dnsCacheNames bounds the names the sender checks' cache keeps (a few MB
// at most, however many domains send).
const dnsCacheNames = 10000
