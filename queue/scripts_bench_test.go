package queue_test

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// BenchmarkScripts measures the Redis time of a contact's lifecycle, script
// by script, on a fresh real redis-server per cell: agents × contacts
// waiting × shape of the agents (1x1: one skill, capacity 1 on one channel;
// 14x6: all 14 queues as skills, voice 1 with a phone registered and 2 on each
// text channel). It uses only the package's public API, so it measures any
// implementation of the scripts.
//
// With waiting=0 a lifecycle is enqueue (offered at once to a ready agent),
// accept, wrap-up. With waiting=W every agent's text capacity is taken by
// offers and W letters wait, spread over the shape's queues and text
// channels; a lifecycle accepts an offered contact, wraps it up (which
// offers the agent the next waiting one) and enqueues a new one, which waits:
// the backlog stays W.
//
// It reports Redis's own time (INFO commandstats: EVAL, EVALSHA, FCALL and
// their _RO forms) per call of each script and per lifecycle, and the
// commands those scripts ran per lifecycle. scripts/bench-table.sh turns the
// output into a table.
//
//	go test ./queue -run '^$' -bench 'Scripts' -benchtime 1000x -timeout 60m
//
// With LIANXIN_BENCH_CALLGRIND=1 each cell's redis-server runs under
// valgrind's callgrind and a lifecycle reports instead the instructions
// Redis ran for it (instr/lifecycle: its scripts, and the bench's own reads
// of the contact, the same in any two runs). On these shared 2-core machines
// the µs figures of one binary move by a third from one minute to the next;
// an instruction count does not (within 2 % between runs here), so it tells a change of the
// scripts from the machine's. Redis runs some 50 times slower so: use
// -benchtime 300x.
//
//	LIANXIN_BENCH_CALLGRIND=1 go test ./queue -run '^$' -bench 'Scripts/agents=1000/waiting=0' -benchtime 300x
//
// LIANXIN_BENCH_CALLGRIND_DIR=dir keeps each cell's profile in dir (one file
// per dump: the last is the measured lifecycles), for callgrind_annotate.
// LIANXIN_BENCH_COMMANDS=1 reports the commands the scripts ran per
// lifecycle by name (hset/lifecycle, xadd/lifecycle, …).
func BenchmarkScripts(b *testing.B) {
	for _, agents := range []int{10, 1000, 5000} {
		for _, waiting := range []int{0, 10_000, 100_000} {
			for _, sh := range benchShapes() {
				b.Run(fmt.Sprintf("agents=%d/waiting=%d/shape=%s", agents, waiting, sh.name), func(b *testing.B) {
					c := newScriptCell(b, agents, sh, 3)
					if waiting == 0 {
						c.idleLifecycles(b)
					} else {
						c.backlogLifecycles(b, waiting)
					}
				})
			}
		}
	}
}

// BenchmarkOtherScripts measures the other scripts a desk and a node call
// often, with nothing waiting: SetPresence not_ready and ready, Connect (a
// desk reconnecting), Reject (of a fresh offer, which goes to another agent),
// End (of a letter accepted), Heartbeat, and one Sweep with nothing due.
//
//	go test ./queue -run '^$' -bench 'OtherScripts' -benchtime 1000x
func BenchmarkOtherScripts(b *testing.B) {
	for _, agents := range []int{10, 1000, 5000} {
		for _, sh := range benchShapes() {
			b.Run(fmt.Sprintf("agents=%d/shape=%s", agents, sh.name), func(b *testing.B) {
				newScriptCell(b, agents, sh, -1).others(b)
			})
		}
	}
}

// BenchmarkCallScripts measures a call's lifecycle with nothing waiting:
// EnqueueCall (the offer rings an agent's phone), the answer (Accept), the
// caller's hang-up and the wrap-up; agents on one skill with a phone and
// voice capacity 1 (1x1), or the 14x6 shape of BenchmarkScripts.
//
//	go test ./queue -run '^$' -bench 'CallScripts' -benchtime 1000x
func BenchmarkCallScripts(b *testing.B) {
	voice := benchShape{name: "1x1", skills: map[string]int{"q01": 3}, caps: map[queue.Channel]int{queue.ChannelVoice: 1},
		phone: true, queues: []string{"q01"}, chans: []queue.Channel{queue.ChannelVoice}}
	for _, agents := range []int{10, 1000, 5000} {
		for _, sh := range []benchShape{voice, benchShapes()[1]} {
			b.Run(fmt.Sprintf("agents=%d/shape=%s", agents, sh.name), func(b *testing.B) {
				newScriptCell(b, agents, sh, 3).calls(b)
			})
		}
	}
}

// benchQueues are 14 queues, as many as the shipped directory has.
var benchQueues = func() []queue.Def {
	var d []queue.Def
	for i := 1; i <= 14; i++ {
		d = append(d, queue.Def{Name: fmt.Sprintf("q%02d", i)})
	}
	return d
}()

// benchShape is what every agent of a cell can take, and where the cell's
// contacts go: round the shape's queues and text channels.
type benchShape struct {
	name   string
	skills map[string]int
	caps   map[queue.Channel]int
	phone  bool
	queues []string
	chans  []queue.Channel
}

// slots is how many contacts an agent holds at once on the shape's channels.
func (s benchShape) slots() int {
	n := 0
	for _, ch := range s.chans {
		n += s.caps[ch]
	}
	return n
}

// at is where contact i goes: channels turn fastest, so any run of
// len(chans) contacts covers every channel once.
func (s benchShape) at(i int) (queue.Channel, string) {
	return s.chans[i%len(s.chans)], s.queues[(i/len(s.chans))%len(s.queues)]
}

func benchShapes() []benchShape {
	all := benchShape{name: "14x6", skills: map[string]int{}, caps: map[queue.Channel]int{}, phone: true}
	for _, d := range benchQueues {
		all.skills[d.Name] = 3
		all.queues = append(all.queues, d.Name)
	}
	for _, ch := range queue.Channels {
		if ch == queue.ChannelVoice {
			all.caps[ch] = 1 // eligible, with a phone; no calls come
			continue
		}
		all.caps[ch] = 2
		all.chans = append(all.chans, ch)
	}
	one := benchShape{name: "1x1", skills: map[string]int{"q01": 3}, caps: map[queue.Channel]int{queue.ChannelMailbox: 1},
		queues: []string{"q01"}, chans: []queue.Channel{queue.ChannelMailbox}}
	return []benchShape{one, all}
}

// scriptCell is one cell of the matrix: its own redis-server and ready agents.
type scriptCell struct {
	ctx    context.Context
	rdb    *redis.Client
	q      *queue.Queue
	shape  benchShape
	agents []string
	sess   []string
	next   atomic.Int64 // contacts enqueued, for their citizens' numbers
	cg     *callgrind   // redis-server runs under callgrind
	lp     *luaProfile  // redis-server profiles the library's lines
}

// callgrind counts the instructions of a redis-server run under valgrind's
// callgrind (see BenchmarkScripts).
type callgrind struct {
	pid   int
	out   string // the profile's file; each dump adds one named out.<n>
	dumps int
}

// zero starts the count again.
func (g *callgrind) zero(b testing.TB) {
	if out, err := exec.Command("callgrind_control", "--zero", strconv.Itoa(g.pid)).CombinedOutput(); err != nil {
		b.Fatalf("callgrind_control --zero: %v %s", err, out)
	}
}

// count is the instructions counted since zero.
func (g *callgrind) count(b testing.TB) float64 {
	if out, err := exec.Command("callgrind_control", "--dump", strconv.Itoa(g.pid)).CombinedOutput(); err != nil {
		b.Fatalf("callgrind_control --dump: %v %s", err, out)
	}
	g.dumps++
	// callgrind_control returns once the dump is asked for; callgrind writes
	// it at its next check of commands.
	name := fmt.Sprintf("%s.%d", g.out, g.dumps)
	for try := 0; ; try++ {
		text, err := os.ReadFile(name)
		if err == nil {
			for _, line := range strings.Split(string(text), "\n") {
				if v, ok := strings.CutPrefix(line, "summary: "); ok {
					n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
					require.NoError(b, err)
					return n
				}
			}
		}
		if try == 600 {
			b.Fatalf("callgrind wrote no summary to %s: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cellFileName is the bench cell's name as a file's: the callgrind profile's
// and the line profile's files are named after it.
func cellFileName(b *testing.B) string {
	return strings.NewReplacer("/", "_", "=", "").Replace(b.Name())
}

func newScriptCell(b *testing.B, agents int, sh benchShape, maxMisses int) *scriptCell {
	var s *queuetest.Server
	var cg *callgrind
	var lp *luaProfile
	if os.Getenv("LIANXIN_BENCH_CALLGRIND") != "" {
		name := "callgrind.out"
		dir := os.Getenv("LIANXIN_BENCH_CALLGRIND_DIR") // kept there, for callgrind_annotate
		if dir == "" {
			dir = b.TempDir()
		} else {
			name = cellFileName(b) + "." + name
		}
		cg = &callgrind{out: filepath.Join(dir, name)}
		s = queuetest.RedisServerUnder(b, []string{"valgrind", "--tool=callgrind", "--callgrind-out-file=" + cg.out})
		cg.pid = s.Pid()
	} else {
		if dir := os.Getenv("LIANXIN_BENCH_LUAPROF"); dir != "" {
			lp = newLuaProfile(b, dir)
		}
		s = queuetest.RedisServer(b)
		s.RealTime(b)
	}
	c := &scriptCell{ctx: context.Background(), rdb: s.Client(b), shape: sh, cg: cg, lp: lp,
		agents: make([]string, agents), sess: make([]string, agents)}
	var err error
	c.q, err = queue.New(c.rdb, queue.Options{NodeID: "bench", Queues: benchQueues, OfferTimeout: time.Hour,
		RingTimeout: time.Hour, MaxMisses: maxMisses})
	require.NoError(b, err)
	parallel(b, agents, func(i int) error {
		id := strconv.Itoa(10000 + i)
		c.agents[i] = id
		if sh.phone {
			if err := c.q.SetPhone(c.ctx, id, time.Now().Add(24*time.Hour)); err != nil {
				return err
			}
		}
		sess, err := c.q.Connect(c.ctx, queue.Profile{ID: id, Name: "坐席 " + id, Skills: sh.skills, Capacity: sh.caps})
		if err != nil {
			return err
		}
		c.sess[i] = sess.ID
		return c.q.SetPresence(c.ctx, id, sess.ID, queue.PresenceReady, "")
	})
	return c
}

// parallel runs f(0…n-1) on 8 goroutines: Redis serves one at a time, but
// the round trips overlap.
func parallel(b *testing.B, n int, f func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// enqueue stores a letter of a new citizen on ch in queue qn, under an
// idempotency key as every provider's and web form's intake has one.
func (c *scriptCell) enqueue(ch queue.Channel, qn string) (string, error) {
	n := c.next.Add(1)
	phone := fmt.Sprintf("+86138%08d", n)
	r, err := c.q.Enqueue(c.ctx, queue.Intake{Channel: ch, Line: "cd-city-0001", Queue: qn, Subject: "噪音扰民",
		Text:    strings.Repeat("小区楼下施工到深夜，请协调处理。", 8),
		Citizen: queue.Citizen{Name: "市民", Phone: phone, Address: phone}}, "web:bench-"+strconv.FormatInt(n, 10))
	return r.TrackingNo, err
}

func (c *scriptCell) state(b *testing.B, tn string) *queue.Contact {
	b.Helper()
	ct, err := c.q.Contact(c.ctx, tn)
	require.NoError(b, err)
	return ct
}

// waiting counts the contacts waiting in every queue.
func (c *scriptCell) waiting(b *testing.B) int {
	b.Helper()
	st, err := c.q.Stats(c.ctx)
	require.NoError(b, err)
	n := 0
	for _, s := range st {
		n += int(s.Waiting)
	}
	return n
}

// idleLifecycles runs lifecycles with nothing waiting: each contact is
// offered at once.
func (c *scriptCell) idleLifecycles(b *testing.B) {
	m := newMeter(b, c.rdb, "enqueue", "accept", "wrapup")
	m.counting(c.cg, c.lp)
	i := 0
	for b.Loop() {
		ch, qn := c.shape.at(i)
		m.begin()
		tn, err := c.enqueue(ch, qn)
		require.NoError(b, err)
		m.step(0)
		ct := c.state(b, tn)
		if ct.State != queue.StateOffered {
			b.Fatalf("contact %s is %s, not offered at once", tn, ct.State)
		}
		m.begin()
		require.NoError(b, c.q.Accept(c.ctx, ct.Agent, tn))
		m.step(1)
		require.NoError(b, c.q.WrapUp(c.ctx, ct.Agent, tn, queue.RequestConsultation, queue.OutcomeResolved, ""))
		m.step(2)
		if i%16 == 0 {
			if st := c.state(b, tn).State; st != queue.StateClosed {
				b.Fatalf("contact %s is %s after wrap-up", tn, st)
			}
		}
		i++
	}
	m.end()
	if n := c.waiting(b); n != 0 {
		b.Fatalf("%d contacts wait after the run, want 0", n)
	}
	m.report(b, i, "lifecycle")
}

// offer is an offered contact, as the event stream told.
type offer struct {
	agent, tn string
	ch        queue.Channel
}

// backlogLifecycles fills every agent's capacity with offers and keeps w
// contacts waiting, then runs lifecycles that keep it so. The offers made
// are read from the event stream (Subscribe), as a desk learns of them.
func (c *scriptCell) backlogLifecycles(b *testing.B, w int) {
	held := len(c.agents) * c.shape.slots()
	offers := make(chan offer, held+1024)
	ctx, cancel := context.WithCancel(c.ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	pos, err := c.q.EventsPosition(c.ctx)
	require.NoError(b, err)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = c.q.SubscribeFrom(ctx, pos, func(e queue.Event) {
			if e.Type != queue.EventOffered || e.Contact == nil {
				return
			}
			select {
			case offers <- offer{e.Contact.Agent, e.Contact.TrackingNo, e.Contact.Channel}:
			default: // more than every agent's capacity: the run fails below
			}
		})
	}()
	parallel(b, held+w, func(i int) error {
		_, err := c.enqueue(c.shape.at(i))
		return err
	})
	for t := 0; len(offers) < held; t++ {
		if t > 1200 {
			b.Fatalf("%d offers made of %d", len(offers), held)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := c.waiting(b); n != w {
		b.Fatalf("%d contacts wait, want %d", n, w)
	}

	m := newMeter(b, c.rdb, "accept", "wrapup", "enqueue")
	m.counting(c.cg, c.lp)
	i := 0
	for b.Loop() {
		var o offer
		select {
		case o = <-offers:
		case <-time.After(time.Minute):
			b.Fatalf("lifecycle %d: no offer made", i)
		}
		m.begin()
		require.NoError(b, c.q.Accept(c.ctx, o.agent, o.tn))
		m.step(0)
		require.NoError(b, c.q.WrapUp(c.ctx, o.agent, o.tn, queue.RequestConsultation, queue.OutcomeResolved, ""))
		m.step(1)
		tn, err := c.enqueue(o.ch, c.shape.queues[i%len(c.shape.queues)])
		require.NoError(b, err)
		m.step(2)
		if i%16 == 0 {
			if st := c.state(b, o.tn).State; st != queue.StateClosed {
				b.Fatalf("contact %s is %s after wrap-up", o.tn, st)
			}
			if st := c.state(b, tn).State; st != queue.StateWaiting {
				b.Fatalf("contact %s is %s, not waiting behind the backlog", tn, st)
			}
		}
		i++
	}
	m.end()
	if n := c.waiting(b); n != w {
		b.Fatalf("%d contacts wait after the run, want %d", n, w)
	}
	m.report(b, i, "lifecycle")
}

// calls runs call lifecycles with nothing waiting: each call rings an agent at once.
func (c *scriptCell) calls(b *testing.B) {
	m := newMeter(b, c.rdb, "enqueue_call", "accept", "hangup", "wrapup")
	i := 0
	for b.Loop() {
		phone := fmt.Sprintf("+86139%08d", c.next.Add(1))
		m.begin()
		r, err := c.q.EnqueueCall(c.ctx, queue.Intake{Queue: c.shape.queues[i%len(c.shape.queues)], Line: "12345",
			Citizen: queue.Citizen{Address: phone, Phone: phone}}, queue.Call{ID: "bench-" + phone, Node: "bench"})
		require.NoError(b, err)
		m.step(0)
		ct := c.state(b, r.TrackingNo)
		if ct.State != queue.StateOffered {
			b.Fatalf("call %s is %s, not offered at once", r.TrackingNo, ct.State)
		}
		m.begin()
		require.NoError(b, c.q.Accept(c.ctx, ct.Agent, r.TrackingNo))
		m.step(1)
		h, err := c.q.Hangup(c.ctx, r.TrackingNo, "caller")
		require.NoError(b, err)
		m.step(2)
		if h.Outcome != "ended" {
			b.Fatalf("call %s: hang-up %q, want ended", r.TrackingNo, h.Outcome)
		}
		require.NoError(b, c.q.WrapUp(c.ctx, ct.Agent, r.TrackingNo, queue.RequestConsultation, queue.OutcomeResolved, ""))
		m.step(3)
		if i%16 == 0 {
			if st := c.state(b, r.TrackingNo).State; st != queue.StateClosed {
				b.Fatalf("call %s is %s after wrap-up", r.TrackingNo, st)
			}
		}
		i++
	}
	if n := c.waiting(b); n != 0 {
		b.Fatalf("%d contacts wait after the run, want 0", n)
	}
	m.report(b, i, "call")
}

// others runs the other scripts, one of each per iteration, on agent after
// agent.
func (c *scriptCell) others(b *testing.B) {
	m := newMeter(b, c.rdb, "not_ready", "ready", "connect", "reject", "heartbeat", "sweep", "end")
	i := 0
	for b.Loop() {
		k := i % len(c.agents)
		id := c.agents[k]
		m.begin()
		require.NoError(b, c.q.SetPresence(c.ctx, id, c.sess[k], queue.PresenceNotReady, "break"))
		m.step(0)
		require.NoError(b, c.q.SetPresence(c.ctx, id, c.sess[k], queue.PresenceReady, ""))
		m.step(1)
		sess, err := c.q.Connect(c.ctx, queue.Profile{ID: id, Name: "坐席 " + id, Skills: c.shape.skills,
			Capacity: c.shape.caps})
		require.NoError(b, err)
		m.step(2)
		if sess.Replaced != c.sess[k] {
			b.Fatalf("agent %s: the new desk replaced %q, not %q", id, sess.Replaced, c.sess[k])
		}
		c.sess[k] = sess.ID

		tn, err := c.enqueue(c.shape.at(i))
		require.NoError(b, err)
		ct := c.state(b, tn)
		if ct.State != queue.StateOffered {
			b.Fatalf("contact %s is %s, not offered at once", tn, ct.State)
		}
		m.begin()
		require.NoError(b, c.q.Reject(c.ctx, ct.Agent, tn))
		m.step(3)
		// The rejected contact goes to the next agent (with one agent, to
		// the same); it is served, so nothing waits.
		if next := c.state(b, tn); next.State != queue.StateOffered {
			b.Fatalf("contact %s is %s after a reject, not offered again", tn, next.State)
		} else {
			require.NoError(b, c.q.Accept(c.ctx, next.Agent, tn))
			m.begin()
			require.NoError(b, c.q.End(c.ctx, next.Agent, tn))
			m.step(6)
			require.NoError(b, c.q.WrapUp(c.ctx, next.Agent, tn, queue.RequestConsultation, queue.OutcomeResolved, ""))
		}

		m.begin()
		require.NoError(b, c.q.Heartbeat(c.ctx))
		m.step(4)
		r, err := c.q.Sweep(c.ctx)
		require.NoError(b, err)
		m.step(5)
		if r.Skipped || r.Expired+r.DeadNodes+r.Offered+r.Escalated > 0 {
			b.Fatalf("a sweep with nothing due did something: %+v", r)
		}
		i++
	}
	if n := c.waiting(b); n != 0 {
		b.Fatalf("%d contacts wait after the run, want 0", n)
	}
	m.report(b, i, "")
}

// meter sums Redis's own time in scripts, and the commands they ran, per
// step, from INFO commandstats taken before and after each step.
type meter struct {
	b     testing.TB
	rdb   *redis.Client
	names []string
	last  map[string]cmdStat
	usec  [][]float64 // per step, per call
	cmds  []float64
	// byName counts the commands the scripts ran, by name, over all steps
	// (reported with LIANXIN_BENCH_COMMANDS=1).
	byName map[string]float64
	// With callgrind, the meter counts the instructions of all its steps
	// together (INFO, which the steps' readings need, costs more than a
	// script).
	cg    *callgrind
	instr float64 // counted from counting to end
	lp    *luaProfile
}

// end ends the meter's count (with callgrind: what follows, the run's
// checks, is not counted).
func (m *meter) end() {
	if m.cg != nil {
		m.instr = m.cg.count(m.b)
	}
}

type cmdStat struct{ calls, usec, failed float64 }

// scriptCmds are the commands that run a script; the commands a script
// calls count in commandstats too (and their time within the script's).
var scriptCmds = map[string]bool{"eval": true, "evalsha": true, "eval_ro": true, "evalsha_ro": true,
	"fcall": true, "fcall_ro": true}

// notScripts are commands no script runs: the meter's own, and those of the
// event stream's reader and of new connections.
var notScripts = map[string]bool{"info": true, "config|resetstat": true, "config": true, "xread": true,
	"xreadgroup": true, "hello": true, "client|setinfo": true, "client": true, "ping": true,
	"function|load": true, "function": true}

func newMeter(b testing.TB, rdb *redis.Client, steps ...string) *meter {
	return &meter{b: b, rdb: rdb, names: steps, usec: make([][]float64, len(steps)), cmds: make([]float64, len(steps)),
		byName: map[string]float64{}}
}

// counting makes the meter count g's instructions from now on, if g is set,
// or lp's lines, if lp is.
func (m *meter) counting(g *callgrind, lp *luaProfile) {
	if g != nil {
		m.cg = g
		g.zero(m.b)
	}
	if lp != nil {
		m.lp = lp
		lp.start(m.b, m.rdb)
	}
}

func (m *meter) begin() {
	if m.cg != nil {
		return
	}
	m.last = m.read()
}

// step adds what Redis did since the last reading to step k.
func (m *meter) step(k int) {
	if m.cg != nil {
		return
	}
	now := m.read()
	usec := 0.0
	for name, s := range now {
		d := cmdStat{calls: s.calls - m.last[name].calls, usec: s.usec - m.last[name].usec}
		switch {
		case scriptCmds[name]:
			usec += d.usec
		case !notScripts[name]:
			m.cmds[k] += d.calls
			m.byName[name] += d.calls
		}
	}
	m.usec[k] = append(m.usec[k], usec)
	m.last = now
}

func (m *meter) read() map[string]cmdStat {
	info, err := m.rdb.Info(context.Background(), "commandstats").Result()
	require.NoError(m.b, err)
	out := map[string]cmdStat{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, found := strings.CutPrefix(name, "cmdstat_")
		if !ok || !found {
			continue
		}
		var s cmdStat
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			f, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "calls":
				s.calls = f
			case "usec":
				s.usec = f
			case "failed_calls":
				s.failed = f
			}
		}
		out[name] = s
	}
	return out
}

// report gives the mean, the median and the 10th percentile of µs per call
// of each step and, with a unit, of all steps per unit, and the commands the
// scripts ran per unit (or per step). The percentiles are steadier on a busy
// machine: a script that loses its core meanwhile counts the time it waited.
func (m *meter) report(b *testing.B, n int, unit string) {
	if n == 0 {
		return
	}
	if m.cg != nil {
		b.ReportMetric(m.instr/float64(n), "instr/"+cmp.Or(unit, "call"))
		b.ReportMetric(0, "ns/op")
		return
	}
	if m.lp != nil {
		m.lp.report(b, n, unit)
		return
	}
	total := make([]float64, n)
	var cmds float64
	for k, name := range m.names {
		var sum float64
		for i, v := range m.usec[k] {
			sum += v
			total[i] += v
		}
		b.ReportMetric(sum/float64(n), "redis-µs/"+name)
		b.ReportMetric(median(m.usec[k]), "p50-µs/"+name)
		b.ReportMetric(percentile(m.usec[k], 10), "p10-µs/"+name)
		cmds += m.cmds[k]
		if unit == "" {
			b.ReportMetric(m.cmds[k]/float64(n), "cmds/"+name)
		}
	}
	if unit != "" {
		var sum float64
		for _, v := range total {
			sum += v
		}
		b.ReportMetric(sum/float64(n), "redis-µs/"+unit)
		b.ReportMetric(median(total), "p50-µs/"+unit)
		b.ReportMetric(percentile(total, 10), "p10-µs/"+unit)
		b.ReportMetric(cmds/float64(n), "cmds/"+unit)
	}
	if os.Getenv("LIANXIN_BENCH_COMMANDS") != "" {
		for name, calls := range m.byName {
			if calls > 0 {
				b.ReportMetric(calls/float64(n), name+"/"+cmp.Or(unit, "call"))
			}
		}
	}
	b.ReportMetric(0, "ns/op") // wall time is the machine's, not the scripts'
}

// percentile is the p-th percentile of v, nearest rank below.
func percentile(v []float64, p int) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
