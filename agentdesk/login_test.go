package agentdesk

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// tryLogin posts one login from client and returns the status.
func tryLogin(t *testing.T, c *http.Client, base, agent, password string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"agent": agent, "password": password})
	resp, err := c.Post(base+"/api/login", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var e APIError
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode == http.StatusTooManyRequests {
		require.Equal(t, "too_many_attempts", e.Code)
		require.NotEmpty(t, resp.Header.Get("Retry-After"))
	}
	return resp.StatusCode
}

// burst sends n logins at once and counts the answers by status.
func burst(t *testing.T, c *http.Client, base, agent, password string, n int) map[int]int {
	t.Helper()
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		got = map[int]int{}
	)
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st := tryLogin(t, c, base, agent, password)
			mu.Lock()
			got[st]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return got
}

// Issue 3: 40 concurrent wrong passwords used to be all checked, and the
// right one after them logged in. Now at most 5 are checked and the right
// one from the same address is refused for the rest of the minute.
func TestConcurrentWrongPasswordsLockThePair(t *testing.T) {
	e := startDesk(t)
	c := clientFrom("127.0.0.1")
	got := burst(t, c, e.base, "1001", "wrong", 40)
	t.Logf("40 concurrent wrong passwords: %v, %d hashed", got, e.s.logins.hashes.Load())
	require.Equal(t, map[int]int{401: 5, 429: 35}, got)
	require.EqualValues(t, 5, e.s.logins.hashes.Load())
	require.Equal(t, http.StatusTooManyRequests, tryLogin(t, c, e.base, "1001", "demo"), "the right password after the lockout")
	require.EqualValues(t, 5, e.s.logins.hashes.Load(), "a locked login is not hashed")
}

// 300 concurrent guesses from one address: 5 hashed, the rest refused at
// once.
func TestConcurrentGuessesHashedAtMostFive(t *testing.T) {
	e := startDesk(t)
	got := burst(t, clientFrom("127.0.0.1"), e.base, "1001", "guess", 300)
	t.Logf("300 concurrent guesses: %v, %d hashed", got, e.s.logins.hashes.Load())
	require.EqualValues(t, 5, e.s.logins.hashes.Load())
	require.Equal(t, map[int]int{401: 5, 429: 295}, got)
}

// An unknown agent id is counted, hashed and answered exactly like a known
// one, so the answers do not tell which ids exist.
func TestUnknownAgentAnsweredLikeKnown(t *testing.T) {
	e := startDesk(t)
	seq := func(ip, agent string) ([]int, []time.Duration) {
		c := clientFrom(ip)
		var st []int
		var took []time.Duration
		for range 7 {
			start := time.Now()
			st = append(st, tryLogin(t, c, e.base, agent, "wrong"))
			took = append(took, time.Since(start))
		}
		return st, took
	}
	known, tk := seq("127.0.0.3", "1001")
	h := e.s.logins.hashes.Load()
	unknown, tu := seq("127.0.0.4", "9999")
	require.Equal(t, []int{401, 401, 401, 401, 401, 429, 429}, known)
	require.Equal(t, known, unknown)
	require.Equal(t, h, e.s.logins.hashes.Load()-h, "unknown ids are hashed (against a dummy) as often as known ones")
	t.Logf("median time of a refused password: known %v, unknown %v", median(tk[:5]), median(tu[:5]))
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// An attacker hammering an agent's id from one address does not lock the
// agent out of the desk at another address; the attacker's address, trying
// many ids, is locked after 20. The desk logs in while the attacker's
// counted guesses are held before their hash check (a hook, not a clock), so
// it is really during the attack.
func TestAttackerCannotLockOutTheAgent(t *testing.T) {
	held := make(chan struct{}, 200)
	release := make(chan struct{})
	// The hash budget is TestLoginHashBudget's: here it must not be what
	// refuses, however fast bcrypt runs on this machine.
	e := startDeskHooked(t, func(s *Server) {
		s.logins.budget = newBudget(10000, time.Now)
		s.logins.windows = &[3]time.Duration{time.Hour, time.Hour, time.Hour} // no lock runs out during the test
		s.logins.counted = func(agent, addr string) {
			if addr == "127.0.0.2" {
				held <- struct{}{}
				<-release
			}
		}
	})
	attacker := clientFrom("127.0.0.2")
	desk := clientFrom("127.0.0.1")
	var wg sync.WaitGroup
	wg.Add(1)
	var got map[int]int
	go func() {
		defer wg.Done()
		got = burst(t, attacker, e.base, "1001", "guess", 200)
	}()
	for range 5 { // the pair's limit: five guesses are counted and held
		<-held
	}
	require.Equal(t, http.StatusOK, tryLogin(t, desk, e.base, "1001", "demo"), "during the attack")
	close(release)
	wg.Wait()
	require.Equal(t, map[int]int{401: 5, 429: 195}, got)
	require.Len(t, held, 0, "no sixth guess was counted")
	require.Equal(t, http.StatusOK, tryLogin(t, desk, e.base, "1001", "demo"), "after the attack")
	require.Equal(t, http.StatusTooManyRequests, tryLogin(t, attacker, e.base, "1001", "demo"))

	// Many ids from one address: the address is locked after 20 failures,
	// whatever the ids, while the agents still log in from elsewhere.
	spray := clientFrom("127.0.0.5")
	var st []int
	for i := range 25 {
		st = append(st, tryLogin(t, spray, e.base, []string{"1002", "1005", "9998", "7777", "1234"}[i%5], "guess"))
	}
	require.Equal(t, slices.Repeat([]int{401}, 20), st[:20])
	require.Equal(t, slices.Repeat([]int{429}, 5), st[20:])
	require.Equal(t, http.StatusOK, tryLogin(t, desk, e.base, "1002", "demo"))
}

// Hashing is bounded per node: beyond the budget a login is answered 503 at
// once, without hashing and without being counted against anyone.
func TestLoginHashBudget(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	e := startDeskHooked(t, func(s *Server) { s.logins.budget = newBudget(2, func() time.Time { return now }) })
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		got = map[int]int{}
	)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip := "127.0.1." + string(rune('0'+i))
			st := tryLogin(t, clientFrom(ip), e.base, "9999", "guess")
			mu.Lock()
			got[st]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Equal(t, map[int]int{401: 2, 503: 8}, got)
	require.EqualValues(t, 2, e.s.logins.hashes.Load())
	n, err := e.rdb.Get(t.Context(), "{lianxin}:agentdesk:login:agent:9999").Int()
	require.NoError(t, err)
	require.Equal(t, 2, n, "logins refused for the budget are not counted")
}

// The dummy hash an unknown id is checked against costs what the agents'
// hashes cost, so it takes as long.
func TestDummyHashHasTheAgentsCost(t *testing.T) {
	h4, err := bcrypt.GenerateFromPassword([]byte("a"), 4)
	require.NoError(t, err)
	h5, err := bcrypt.GenerateFromPassword([]byte("b"), 5)
	require.NoError(t, err)
	for _, tc := range []struct {
		hashes []string
		cost   int
	}{{[]string{string(h4), string(h5), "not a hash"}, 5}, {[]string{string(h4)}, 4}, {nil, bcrypt.DefaultCost}} {
		c, err := bcrypt.Cost(dummyHash(tc.hashes))
		require.NoError(t, err)
		require.Equal(t, tc.cost, c)
	}
}
