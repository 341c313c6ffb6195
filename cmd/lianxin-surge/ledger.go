package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/internal/loadsim"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

// entry is one replayed contact: when it was sent, what the node answered,
// and the offers it had on the desks.
type entry struct {
	ch      channel
	sent    time.Time
	ackAt   time.Time
	acked   bool
	refused string
	ackTN   string // the tracking number in the acknowledgement, where the channel gives one
	tn      string // the tracking number of its first offer
	offerAt time.Time
	dupTN   bool // offered under a second tracking number: a duplicate contact
	offers  int  // offers received (a call's phone that did not answer: more than one)
	// A call's: the sipp caller placed it; an agent's phone answered it
	// (takenAt); the gateway hung up after the talk; the caller gave up.
	placed, ended, abandoned bool
	takenAt                  time.Time
}

// ledger keeps every contact's entry.
type ledger struct {
	mu        sync.Mutex
	e         []entry
	start     time.Time
	sentN     int
	ackedN    int
	offeredN  int
	waiting   int // acknowledged, not offered yet
	foreign   int // offers without a replay's marker
	lastOffer time.Time
	lastFirst time.Time // the last first offer of a contact: progress
	callbacks int
	wraps     map[string]int
	deskErrs  map[string]int
	rescinds  map[string]int
	agents    map[string]string // agent → its last state (not_ready/reason)
}

func newLedger(n int) *ledger {
	return &ledger{e: make([]entry, n), wraps: map[string]int{}, deskErrs: map[string]int{}, rescinds: map[string]int{},
		agents: map[string]string{}}
}

func (l *ledger) sent(i int, c channel, at time.Time) {
	l.mu.Lock()
	l.e[i].ch, l.e[i].sent = c, at
	l.sentN++
	l.mu.Unlock()
}

func (l *ledger) acked(i int, tn string, err error, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := &l.e[i]
	if err != nil {
		e.refused = err.Error()
		return
	}
	e.acked, e.ackTN, e.ackAt = true, tn, at
	l.ackedN++
	if e.tn == "" {
		l.waiting++
	}
}

func (l *ledger) offered(i int, tn string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if at.After(l.lastOffer) {
		l.lastOffer = at
	}
	if i < 0 || i >= len(l.e) {
		l.foreign++
		return
	}
	e := &l.e[i]
	e.offers++
	switch {
	case e.tn == "":
		e.tn, e.offerAt = tn, at
		l.offeredN++
		if at.After(l.lastFirst) {
			l.lastFirst = at
		}
		if e.acked {
			l.waiting--
		}
	case e.tn != tn:
		e.dupTN = true
	}
}

// taken records that an agent's phone answered call i.
func (l *ledger) taken(i int, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i >= 0 && i < len(l.e) && l.e[i].takenAt.IsZero() {
		l.e[i].takenAt = at
	}
}

// agentState records an agent's state from its desk's state message.
func (l *ledger) agentState(id, state, reason string) {
	if state == "not_ready" && reason != "" {
		state += "/" + reason
	}
	l.mu.Lock()
	l.agents[id] = state
	l.mu.Unlock()
}

// callback counts a callback offer a desk accepted.
func (l *ledger) callback() {
	l.mu.Lock()
	l.callbacks++
	l.mu.Unlock()
}

func (l *ledger) rescinded(reason string) {
	l.mu.Lock()
	l.rescinds[reason]++
	l.mu.Unlock()
}

// calls enters what the callers' log says of the calls (indices calls):
// when each was placed and answered, refused, ended or abandoned. A call
// sipp never placed counts as refused. It returns the last INVITE's time.
func (l *ledger) calls(evs []callEvent, calls []int) time.Time {
	var last time.Time
	for _, ev := range evs {
		if ev.i < 0 || ev.i >= len(l.e) {
			continue
		}
		switch ev.kind {
		case "invite":
			l.sent(ev.i, chanVoice, ev.at)
			l.mu.Lock()
			l.e[ev.i].placed = true
			l.mu.Unlock()
			if ev.at.After(last) {
				last = ev.at
			}
		case "answer":
			l.acked(ev.i, "", nil, ev.at)
		case "refused":
			l.acked(ev.i, "", errors.New("refused by the gateway (a final response ≥ 400)"), ev.at)
		case "bye":
			l.mu.Lock()
			l.e[ev.i].ended = true
			l.mu.Unlock()
		case "abandon":
			l.mu.Lock()
			l.e[ev.i].abandoned = true
			l.mu.Unlock()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, i := range calls {
		if e := &l.e[i]; !e.placed {
			e.ch, e.refused = chanVoice, "not placed by sipp"
		}
	}
	return last
}

func (l *ledger) wrapped(k string) {
	l.mu.Lock()
	l.wraps[k]++
	l.mu.Unlock()
}

// deskError counts a desk's error by its code; the key keeps the first
// message of each code as the example.
func (l *ledger) deskError(code, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.deskErrs {
		if strings.HasPrefix(k, code+": ") {
			l.deskErrs[k]++
			return
		}
	}
	l.deskErrs[code+": "+msg]++
}

func (l *ledger) counts() (sent, acked, offered, waiting int, last time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sentN, l.ackedN, l.offeredN, l.waiting, l.lastFirst
}

// waitOffers returns once every acknowledged contact was offered, or when
// no contact was offered for the first time for drain (offers again of
// contacts offered before, a callback's say, are no progress).
func (l *ledger) waitOffers(ctx context.Context, drain time.Duration) {
	since := time.Now()
	for ctx.Err() == nil {
		_, _, _, waiting, last := l.counts()
		if waiting == 0 {
			return
		}
		if last.After(since) {
			since = last
		}
		if time.Since(since) > drain {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fill computes the report's figures from the entries.
func (l *ledger) fill(r *result, plan []arrival) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.ByChannel, r.LatByChannel = map[channel]int{}, map[channel][2]time.Duration{}
	r.RefusedBy, r.Wrapups, r.DeskErrors, r.Rescinded = map[string]int{}, l.wraps, l.deskErrs, l.rescinds
	r.Callbacks = l.callbacks
	r.AgentsEnd = map[string]int{}
	for _, st := range l.agents {
		r.AgentsEnd[st]++
	}
	var all, written, toOffer, queued, ring []time.Duration
	c := &r.Calls
	by := map[channel][]time.Duration{}
	perSecond := map[int64]int{}
	var lastAck time.Time
	met := 0
	for i := range l.e {
		e := &l.e[i]
		r.ByChannel[plan[i].channel]++
		if e.refused != "" {
			r.Refused++
			msg := e.refused
			if len(msg) > 60 {
				msg = msg[:60]
			}
			r.RefusedBy[msg]++
		}
		if e.acked {
			r.Acked++
			perSecond[int64(e.ackAt.Sub(l.start)/time.Second)]++
			if e.ackAt.After(lastAck) {
				lastAck = e.ackAt
			}
			if e.tn == "" && !e.abandoned {
				r.Lost++ // a caller who gave up waiting before any offer is an abandon, not lost
			}
			if e.ackTN != "" && e.tn != "" && e.ackTN != e.tn {
				r.Mismatched++
			}
		} else if e.tn != "" {
			r.Unacked++
		}
		if e.dupTN {
			r.Duplicated++
		}
		if plan[i].channel == chanVoice {
			c.Calls++
			if e.placed {
				c.Placed++
				c.Behind = max(c.Behind, e.sent.Sub(l.start.Add(plan[i].at)))
			}
			if e.acked {
				c.Answered++
				if e.tn == "" && e.abandoned {
					c.AbandonedWaiting++
				} else if e.tn == "" {
					c.Lost++
				}
			}
			if e.refused != "" {
				c.Refused++
			}
			if e.dupTN {
				c.Duplicated++
			}
			if e.tn != "" {
				c.Offered++
				toOffer = append(toOffer, e.offerAt.Sub(e.sent))
				if e.acked {
					queued = append(queued, e.offerAt.Sub(e.ackAt))
				}
				if e.takenAt.IsZero() {
					c.Unanswered++
				} else {
					c.Taken++
					ring = append(ring, e.takenAt.Sub(e.offerAt))
				}
			}
			if e.offers > 1 {
				c.Requeued++
			}
			if e.ended {
				c.Ended++
			}
			if e.abandoned {
				c.Abandoned++
			}
		} else if e.tn != "" {
			written = append(written, e.offerAt.Sub(e.sent))
		}
		if e.tn != "" {
			r.Offered++
			d := e.offerAt.Sub(e.sent)
			all = append(all, d)
			by[e.ch] = append(by[e.ch], d)
			if e.acked && d <= r.SL {
				met++
			}
		}
	}
	r.Duplicated += l.foreign // an offer the replay never sent
	p := loadsim.Percentiles(all)
	r.P50, r.P90, r.P99, r.Max = p(0.5), p(0.9), p(0.99), p(1)
	three := func(lat []time.Duration) [3]time.Duration {
		p := loadsim.Percentiles(lat)
		return [3]time.Duration{p(0.5), p(0.9), p(0.99)}
	}
	r.WrittenLat, c.ToOffer, c.Queued, c.Ring = three(written), three(toOffer), three(queued), three(ring)
	for c, lat := range by {
		p := loadsim.Percentiles(lat)
		r.LatByChannel[c] = [2]time.Duration{p(0.5), p(0.99)}
	}
	if r.Acked > 0 {
		r.ServiceLevel = float64(met) / float64(r.Acked)
	}
	r.Routed = l.lastOffer.Sub(l.start)
	if r.Routed > 0 {
		r.RoutedRate = float64(r.Offered) / r.Routed.Seconds()
	}
	if s := lastAck.Sub(l.start); s > 0 {
		r.IntakeRate = float64(r.Acked) / s.Seconds()
	}
	for _, k := range perSecond {
		r.PeakRate = max(r.PeakRate, float64(k))
	}
}

// monitor samples Redis (INFO) every two seconds: its CPU in the busiest
// interval and its memory's peak; and prints a progress line.
type monitor struct {
	done chan struct{}
	wg   sync.WaitGroup
}

func startMonitor(ctx context.Context, o options, rdb *redis.Client, led *ledger, first loadsim.RedisSample, res *result,
	metrics string) *monitor {
	m := &monitor{done: make(chan struct{})}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		prev, printed := first, first
		var prevAcked, prevOffered int
		for {
			select {
			case <-m.done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			s, err := loadsim.SampleRedis(ctx, rdb)
			if err != nil {
				continue
			}
			res.RedisPeakCores = max(res.RedisPeakCores, (s.CPU-prev.CPU)/s.At.Sub(prev.At).Seconds())
			res.RedisMemPeak = max(res.RedisMemPeak, s.UsedMemory)
			prev = s
			var held float64
			if m, err := loadsim.Scrape(ctx, metrics); err == nil {
				for k, v := range m {
					if strings.HasPrefix(k, "lianxin_sip_calls{") {
						held += v
					}
				}
			}
			res.Calls.Peak = max(res.Calls.Peak, held)
			if o.progress > 0 && s.At.Sub(printed.At) >= o.progress {
				sent, acked, offered, _, _ := led.counts()
				secs := s.At.Sub(printed.At).Seconds()
				o.logf("%6s  written sent %d  acknowledged %d (%.0f/s)  offered %d (%.0f/s)  calls held %.0f  redis %.2f cores, used_memory %s",
					s.At.Sub(led.start).Round(time.Second), sent, acked, float64(acked-prevAcked)/secs, offered,
					float64(offered-prevOffered)/secs, held, (s.CPU-printed.CPU)/secs, loadsim.MiB(s.UsedMemory))
				printed, prevAcked, prevOffered = s, acked, offered
			}
		}
	}()
	return m
}

func (m *monitor) stop() {
	close(m.done)
	m.wg.Wait()
}

// writeConfig writes the node's config: the default queues and directory,
// o.agents agents (password "load", bcrypt's lowest cost) skilled in every
// queue with o.capacity per text channel, one call at a time and a SIP
// phone (user = agent id, password "load"), a WeChat account in safe mode
// against the fake API, the SMS pushes enabled (no SMS sent back: no
// provider to send through), and SMTP's DNS checks kept short. Calls go
// from the welcome straight to the queue (no menu: the replay's callers
// press no key) and the caller is not asked for a rating after the talk;
// the node holds up to 4,000 calls at once when there are calls, with RTP
// ports for them. Without media (-media=false) the node's media timeout is
// an hour, so that callers who send no RTP are not hung up as dead.
func writeConfig(dir string, base *configs.Config, o options, wechatAPI string, calls int) (string, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte("load"), bcrypt.MinCost)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	b.WriteString("auth:\n  login_hashes_per_second: 10000\n")
	b.WriteString("http:\n  max_connections_per_source: 4096\n")
	b.WriteString("queue:\n  offer_timeout: 60s\n")
	maxCalls := 2000
	if calls > 0 {
		maxCalls = 4000
	}
	fmt.Fprintf(&b, "sip:\n  menus: {}\n  rating: {enabled: false}\n  max_calls: %d\n  rtp_ports: {min: 20000, max: %d}\n",
		maxCalls, 20000+4*maxCalls+100)
	if o.noMedia {
		// Silent callers are not dead callers here: the sipps send no RTP.
		b.WriteString("  media_timeout: 1h\n")
	}
	b.WriteString("smtp:\n  dns_timeout: 1s\n  max_connections_per_source: 1000\n  max_connections: 2000\n")
	fmt.Fprintf(&b, "blobs:\n  dir: %s\n", filepath.Join(dir, "blobs"))
	fmt.Fprintf(&b, "wechat:\n  api_base: %s\n  accounts:\n    - {id: %s, name: 成都12345, kind: official, mode: safe, app_id: %s, token: %s, encoding_aes_key: %s, queue: general}\n",
		wechatAPI, wechatAccount, wechatAppID, wechatToken, wechatAESKey)
	fmt.Fprintf(&b, "sms:\n  no_ack: true\n  aliyun: {enabled: true, token: %s}\n  tencent: {enabled: true, token: %s}\n  generic: {enabled: true, secret: %s}\n",
		smsToken, smsToken, smsSecret)
	var skills bytes.Buffer
	for i, q := range base.Queues {
		if i > 0 {
			skills.WriteString(", ")
		}
		fmt.Fprintf(&skills, "%s: 3", q.Name)
	}
	b.WriteString("agents:\n")
	for i := range o.agents {
		ha1 := md5.Sum([]byte(agentID(i) + ":lianxin:load"))
		fmt.Fprintf(&b, "  - {id: %q, name: 坐席%d, password_hash: %q, skills: {%s}, capacity: {voice: 1, mailbox: %d, wechat: %d, sms: %d, web: %d}, phone: {user: %q, ha1_md5: %s}}\n",
			agentID(i), i, hash, skills.String(), o.capacity, o.capacity, o.capacity, o.capacity, agentID(i), hex.EncodeToString(ha1[:]))
	}
	path := filepath.Join(dir, "surge.yaml")
	return path, os.WriteFile(path, b.Bytes(), 0o600)
}
