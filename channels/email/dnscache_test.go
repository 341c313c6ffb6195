package email

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// slowDNS answers after release is closed, counting the questions.
type slowDNS struct {
	fakeDNS
	release chan struct{}
	n       atomic.Int64
}

func (s *slowDNS) LookupTXT(ctx context.Context, name string) ([]string, error) {
	s.n.Add(1)
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, &net.DNSError{Err: ctx.Err().Error(), Name: name, IsTimeout: true, IsTemporary: true}
	}
	return s.fakeDNS.LookupTXT(ctx, name)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Many letters asking the same question at once make one lookup, and the
// answer serves the next ones until the cache's time is over.
func TestDNSCacheAsksOnce(t *testing.T) {
	r := &slowDNS{fakeDNS: *newFakeDNS(), release: make(chan struct{})}
	r.set("example.cn", "v=spf1 -all")
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c := newDNSCache(r, 5*time.Minute, time.Minute, 100, clk.now)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.LookupTXT(context.Background(), "example.cn")
			if err == nil && (len(v) != 1 || v[0] != "v=spf1 -all") {
				err = fmt.Errorf("answer %q", v)
			}
			errs <- err
		}()
	}
	for r.n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(r.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, r.n.Load(), "50 letters at once: one question")

	clk.add(4 * time.Minute)
	_, err := c.LookupTXT(context.Background(), "example.cn")
	require.NoError(t, err)
	require.EqualValues(t, 1, r.n.Load(), "within the cache's time: no question")
	clk.add(time.Minute)
	_, err = c.LookupTXT(context.Background(), "example.cn")
	require.NoError(t, err)
	require.EqualValues(t, 2, r.n.Load(), "after it: asked again")
}

// "No such name" is kept a minute at most; an error that may pass is not
// kept at all.
func TestDNSCacheNegativeAndErrors(t *testing.T) {
	r := newFakeDNS()
	r.fail("flaky.example")
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c := newDNSCache(r, time.Hour, time.Minute, 100, clk.now)

	for range 2 {
		_, err := c.LookupTXT(context.Background(), "_dmarc.example.cn")
		var de *net.DNSError
		require.ErrorAs(t, err, &de)
		require.True(t, de.IsNotFound)
	}
	require.Equal(t, 1, r.questions("_dmarc.example.cn"))
	r.set("_dmarc.example.cn", "v=DMARC1; p=reject")
	clk.add(59 * time.Second)
	_, err := c.LookupTXT(context.Background(), "_dmarc.example.cn")
	require.Error(t, err, "still the kept answer")
	clk.add(time.Second)
	v, err := c.LookupTXT(context.Background(), "_dmarc.example.cn")
	require.NoError(t, err, "a minute later the published record is seen")
	require.Equal(t, []string{"v=DMARC1; p=reject"}, v)

	for range 3 {
		_, err := c.LookupTXT(context.Background(), "flaky.example")
		require.Error(t, err)
	}
	require.Equal(t, 3, r.questions("flaky.example"), "a server failure is asked again every time")
}

// A letter whose own time runs out stops waiting at once; the lookup goes
// on for the cache's timeout and its answer serves the next letter.
func TestDNSCacheWaiterLeavesLookupGoesOn(t *testing.T) {
	r := &slowDNS{fakeDNS: *newFakeDNS(), release: make(chan struct{})}
	c := newDNSCache(r, time.Hour, time.Minute, 100, time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.LookupTXT(ctx, "example.cn")
		done <- err
	}()
	for r.n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	close(r.release)
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.m["TXT example.cn"]
		return ok
	}, 10*time.Second, time.Millisecond, "the lookup finished and was kept")
	v, err := c.LookupTXT(context.Background(), "example.cn")
	require.NoError(t, err)
	require.Equal(t, []string{r.defaultSPF}, v)
	require.EqualValues(t, 1, r.n.Load())
}

// The cache keeps at most its bound of names, whatever the domains.
func TestDNSCacheBounded(t *testing.T) {
	r := newFakeDNS()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c := newDNSCache(r, time.Hour, time.Minute, 100, clk.now)
	for i := range 1000 {
		_, err := c.LookupTXT(context.Background(), fmt.Sprintf("d%d.example", i))
		require.NoError(t, err)
		c.mu.Lock()
		n := len(c.m)
		c.mu.Unlock()
		require.LessOrEqual(t, n, 100)
	}
	// When full, expired answers go first: none of the fresh ones is lost
	// while an expired one stays.
	clk.add(2 * time.Hour)
	for i := range 100 {
		_, err := c.LookupTXT(context.Background(), fmt.Sprintf("new%d.example", i))
		require.NoError(t, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Len(t, c.m, 100)
	for i := range 100 {
		require.Contains(t, c.m, fmt.Sprintf("TXT new%d.example", i))
	}
}

// Letters from one domain, through the SMTP server: its SPF record and its
// DMARC policy are asked for once, however many letters come.
func TestSenderChecksAskOncePerDomain(t *testing.T) {
	e := start(t, queuetest.RedisServer(t), nil, nil)
	for i := range 5 {
		subject := fmt.Sprintf("第%d封", i)
		from := fmt.Sprintf("wang%d@example.cn", i) // five citizens: five contacts
		require.NoError(t, send(t, e, from, []string{boxAddr}, plainLetter(from, fmt.Sprintf("once.%d@test", i), subject)))
		require.True(t, contactBySubject(t, e, subject).SenderAuth.Authenticated)
	}
	require.Equal(t, 1, e.dns.questions("example.cn"), "SPF")
	require.Equal(t, 1, e.dns.questions("_dmarc.example.cn"), "DMARC")
}
