package agentdesk

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

// Login throttling. Every attempt is counted in Redis, atomically and before
// its password is hashed, under three keys:
//
//   - the (agent, source address) pair: 5 failures in a minute lock that
//     pair for the rest of the minute — the desk of the agent at another
//     address is not affected;
//   - the source address: 20 failures in a minute lock the address, whatever
//     agent ids it tries (known or not);
//   - the agent: 100 failures in 10 minutes, from anywhere, lock the agent —
//     only a spread-out attack reaches this, never one address.
//
// A successful login clears its pair and takes its own attempt back from the
// address and the agent. Unknown agent ids are counted, hashed (against a
// dummy hash) and answered exactly as known ones. Hashing itself is bounded
// per node (Params.LoginHashesPerSecond): beyond it a login is answered 503
// at once, without hashing, and the attempt is not counted.
var loginLimits = [3]struct {
	max    int
	window time.Duration
}{
	{5, time.Minute},        // pair
	{20, time.Minute},       // address
	{100, 10 * time.Minute}, // agent
}

// countLogin counts an attempt on all three keys unless one is already at its
// limit. It returns 0 when the attempt may go on, else 1/2/3 (which limit)
// and how long it still holds.
var countLogin = redis.NewScript(`
for i = 1, 3 do
  local n = tonumber(redis.call('GET', KEYS[i]) or '0')
  if n >= tonumber(ARGV[i]) then
    return {i, redis.call('PTTL', KEYS[i])}
  end
end
for i = 1, 3 do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[3 + i]) end
end
return {0, 0}
`)

// uncountLogin takes an attempt back: ARGV[1] "ok" (a success: the pair is
// cleared) or "refund" (never checked).
var uncountLogin = redis.NewScript(`
for i = 1, 3 do
  if ARGV[1] == 'ok' and i == 1 then
    redis.call('DEL', KEYS[1])
  elseif tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then
    redis.call('DECR', KEYS[i])
  end
end
return 0
`)

// maxAgentIDBytes bounds the agent id a login may name (configured ids are
// 3–12 digits), so attempts cannot fill Redis with huge keys.
const maxAgentIDBytes = 64

// loginGuard throttles logins and bounds the bcrypt work of a node.
type loginGuard struct {
	rdb    redis.UniversalClient
	prefix string // the deployment's prefix + "agentdesk:login:"
	budget *budget
	// dummy is checked for unknown agents: a hash of the agents' own cost,
	// so an unknown id takes as long as a known one.
	dummy []byte
	// hashes counts the passwords hashed, for tests and metrics.
	hashes atomic.Int64
	// counted, when set (tests), is called with each attempt once it is
	// counted and before its password is hashed.
	counted func(agent, addr string)
	// windows, when set (tests), replace loginLimits' windows, so a slow
	// machine does not see a lock run out in the middle of a test.
	windows *[3]time.Duration
}

// ErrLoginBusy is a login refused because the node is hashing as many
// passwords as it may; try again in a second.
var ErrLoginBusy = errors.New("too many logins at once; try again in a second")

// lockedError is ErrLocked with how long it holds.
type lockedError struct{ retry time.Duration }

func (e *lockedError) Error() string { return ErrLocked.Error() }
func (e *lockedError) Unwrap() error { return ErrLocked }

func (g *loginGuard) keys(agent, addr string) []string {
	return []string{g.prefix + "pair:" + agent + "|" + addr, g.prefix + "addr:" + addr, g.prefix + "agent:" + agent}
}

// check counts the attempt and checks password against hash ("" for an
// unknown agent, which is checked against a dummy hash and always fails).
func (g *loginGuard) check(ctx context.Context, agent, addr, hash, password string) error {
	keys := g.keys(agent, addr)
	lim := loginLimits
	if g.windows != nil { // tests
		for i := range lim {
			lim[i].window = g.windows[i]
		}
	}
	res, err := countLogin.Run(ctx, g.rdb, keys, lim[0].max, lim[1].max, lim[2].max,
		lim[0].window.Milliseconds(), lim[1].window.Milliseconds(), lim[2].window.Milliseconds()).Int64Slice()
	if err != nil {
		return err
	}
	if res[0] != 0 {
		return &lockedError{retry: time.Duration(max(res[1], 1000)) * time.Millisecond}
	}
	if g.counted != nil {
		g.counted(agent, addr)
	}
	if !g.budget.take() {
		_ = uncountLogin.Run(ctx, g.rdb, keys, "refund").Err()
		return ErrLoginBusy
	}
	g.hashes.Add(1)
	known := hash != ""
	if !known {
		hash = string(g.dummy)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil || !known {
		return ErrBadCredentials
	}
	return uncountLogin.Run(ctx, g.rdb, keys, "ok").Err()
}

// dummyHashes caches one dummy hash per bcrypt cost.
var dummyHashes sync.Map

// dummyHash returns a hash of a password nobody has, at the highest cost
// among hashes (bcrypt's default when none is valid).
func dummyHash(hashes []string) []byte {
	cost := 0
	for _, h := range hashes {
		if c, err := bcrypt.Cost([]byte(h)); err == nil && c > cost {
			cost = c
		}
	}
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	if h, ok := dummyHashes.Load(cost); ok {
		return h.([]byte)
	}
	h, err := bcrypt.GenerateFromPassword([]byte("lianxin-dummy"), cost)
	if err != nil {
		h, _ = bcrypt.GenerateFromPassword([]byte("lianxin-dummy"), bcrypt.DefaultCost)
	}
	dummyHashes.Store(cost, h)
	return h
}

// sourceAddr is the address a request came from (the TCP peer; behind a
// reverse proxy, the proxy — see README).
func sourceAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// budget is a token bucket: at most burst at once, rate per second on
// average. Time is injected for tests.
type budget struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newBudget(rate float64, now func() time.Time) *budget {
	if now == nil {
		now = time.Now
	}
	burst := max(rate, 1)
	return &budget{rate: rate, burst: burst, tokens: burst, last: now(), now: now}
}

func (b *budget) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.now()
	b.tokens = min(b.burst, b.tokens+t.Sub(b.last).Seconds()*b.rate)
	b.last = t
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
