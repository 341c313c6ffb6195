// Command lianxin-load measures routing end to end: it starts a real
// redis-server (unless -redis is given) and one or more lianxin processes,
// logs in many agents' desks over real websockets, makes them ready, then
// queues contacts and measures, for each one, the time from the start of
// its enqueue to the offer arriving on the agent's websocket. Desks accept
// and wrap up every offer, so agents keep taking work.
//
//	go run ./cmd/lianxin-load -agents 1000 -contacts 20000
//
// With -voice it measures bridged calls instead (voice.go): agents' SIP
// phones (one sipp answering for all), desks that wrap up after each call,
// and sipp callers.
//
//	go run ./cmd/lianxin-load -voice -agents 1000 -contacts 1000 -rate 100 -hold 60s
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/internal/loadsim"
	"github.com/lianxin/lianxin/queue"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
)

type options struct {
	agents, contacts, workers, nodes int
	rate                             float64
	redisURL, bin                    string
	via                              string
	voice                            bool
	wallboards, waitReplicas         int
	hold                             time.Duration
	profile, selfProfile             string
}

func main() {
	var o options
	flag.IntVar(&o.agents, "agents", 1000, "ready agents (desks on websockets)")
	flag.IntVar(&o.contacts, "contacts", 20000, "contacts to queue")
	flag.IntVar(&o.workers, "workers", 32, "concurrent enqueuers")
	flag.IntVar(&o.nodes, "nodes", 1, "lianxin processes; desks are spread over them")
	flag.Float64Var(&o.rate, "rate", 0, "contacts per second to offer (0: as fast as the workers go)")
	flag.StringVar(&o.redisURL, "redis", "", "Redis URL (empty: start a redis-server on a free port)")
	flag.StringVar(&o.bin, "bin", "", "lianxin binary (empty: go build ./cmd/lianxin)")
	flag.StringVar(&o.via, "via", "queue", "how contacts are queued: queue (queue.Enqueue) or http (web letters)")
	flag.BoolVar(&o.voice, "voice", false, "bridged calls: -contacts calls by sipp at -rate/s to agents' sipp phones, each held -hold")
	flag.DurationVar(&o.hold, "hold", time.Minute, "with -voice: how long each caller stays on the line")
	flag.IntVar(&o.wallboards, "wallboards", 0, "supervisors' wallboards open on the first node during the load (each gets every push)")
	flag.IntVar(&o.waitReplicas, "wait-replicas", 0, "acknowledge each intake only once this many replicas have it (redis.wait_replicas; -redis must name a primary with them)")
	flag.StringVar(&o.profile, "profile", "", "directory to write the first node's CPU and allocation profiles over the run (cpu.pprof, allocs.pprof)")
	flag.StringVar(&o.selfProfile, "selfprofile", "", "file to write this tool's own CPU profile over the run")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "lianxin-load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "lianxin-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.redisURL == "" {
		url, stop, err := loadsim.StartRedis(ctx, dir)
		if err != nil {
			return err
		}
		defer stop()
		o.redisURL = url
	}
	if o.bin == "" {
		fmt.Println("building lianxin …")
		if o.bin, err = loadsim.Build(ctx, dir); err != nil {
			return err
		}
	}
	if o.voice {
		return runVoice(ctx, o, dir)
	}
	cfg, err := writeConfig(dir, o.agents, o.waitReplicas)
	if err != nil {
		return err
	}
	var bases []string
	var pids []int
	var debugAddr, metricsURL string
	for i := range o.nodes {
		var env []string
		if i == 0 && o.profile != "" {
			port, err := loadsim.FreePort()
			if err != nil {
				return err
			}
			debugAddr = fmt.Sprintf("127.0.0.1:%d", port)
			env = append(env, "LIANXIN_DEBUG_ADDR="+debugAddr)
		}
		n, stop, err := loadsim.StartNode(ctx, o.bin, cfg, o.redisURL, fmt.Sprintf("load-%d", i), dir, env...)
		if err != nil {
			return err
		}
		defer stop()
		bases = append(bases, n.Base)
		pids = append(pids, n.Cmd.Process.Pid)
		if i == 0 {
			metricsURL = n.Metrics
		}
	}
	rssBefore := loadsim.TotalRSS(pids)
	fmt.Printf("redis %s, %d node(s), %d agents, %d contacts via %s, %d workers\n", o.redisURL, o.nodes, o.agents,
		o.contacts, o.via, o.workers)

	rec := newRecorder(o.contacts)
	desks, err := connectDesks(ctx, bases, o.agents, rec)
	if err != nil {
		return err
	}
	defer func() {
		for _, d := range desks {
			_ = d.c.Close()
		}
	}()
	fmt.Printf("%d desks ready\n", len(desks))
	// The nodes' resident memory grown by the desks, settled a moment.
	time.Sleep(2 * time.Second)
	if rssAfter := loadsim.TotalRSS(pids); rssBefore > 0 && rssAfter > 0 {
		fmt.Printf("node RSS %.1f MiB before desks, %.1f MiB with %d desks: %.1f KiB per desk\n",
			float64(rssBefore)/(1<<20), float64(rssAfter)/(1<<20), len(desks),
			float64(rssAfter-rssBefore)/1024/float64(len(desks)))
	}

	pushes, err := openWallboards(ctx, bases[0], o.wallboards)
	if err != nil {
		return err
	}

	opt, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return err
	}
	opt.PoolSize = o.workers * 2
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	q, err := queue.New(rdb, queue.Options{NodeID: "load-enqueuer", Queues: loadQueues, WaitReplicas: o.waitReplicas,
		WaitTimeout: time.Second})
	if err != nil {
		return err
	}
	r0, err := loadsim.SampleRedis(ctx, rdb)
	if err != nil {
		return err
	}
	n0, self0 := nodeTicks(pids), selfCPU()
	h0, h0err := loadsim.ScrapeHistograms(ctx, metricsURL)
	p0, p0err := loadsim.Scrape(ctx, metricsURL)
	if o.selfProfile != "" {
		f, err := os.Create(o.selfProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	var profiled func() error
	if o.profile != "" {
		profiled = loadsim.Profile(ctx, debugAddr, o.profile, profileSeconds(o))
	}
	start := time.Now()
	if err := enqueueAll(ctx, o, q, bases[0], rec); err != nil {
		return err
	}
	enqueued := time.Since(start)
	wait, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	waitErr := rec.wait(wait)
	routed := rec.last().Sub(start)
	r1, err := loadsim.SampleRedis(ctx, rdb)
	if err != nil {
		return err
	}
	n1, self1 := nodeTicks(pids), selfCPU()
	if o.selfProfile != "" {
		pprof.StopCPUProfile()
	}
	rec.report(o, enqueued, routed)
	// Where the offers' time went, as the first node timed it.
	if h1, err := loadsim.ScrapeHistograms(ctx, metricsURL); err == nil && h0err == nil {
		fmt.Print(nodeView("load-0", h0, h1))
	} else {
		fmt.Fprintln(os.Stderr, "lianxin-load: the node's metrics:", errors.Join(h0err, err))
	}
	if p1, err := loadsim.Scrape(ctx, metricsURL); err == nil && p0err == nil {
		fmt.Print(poolView("load-0", p0, p1))
	} else {
		fmt.Fprintln(os.Stderr, "lianxin-load: the node's metrics:", errors.Join(p0err, err))
	}
	// Redis's own CPU over the run (queueing, routing, accepts, wrap-ups and
	// the nodes' reads), from INFO cpu.
	cpu := r1.CPU - r0.CPU
	fmt.Printf("redis CPU %.2f s over %s (%.2f cores, %.0f µs per contact); used_memory %s → %s\n", cpu,
		r1.At.Sub(r0.At).Round(time.Millisecond), cpu/r1.At.Sub(r0.At).Seconds(), cpu/float64(o.contacts)*1e6,
		loadsim.MiB(r0.UsedMemory), loadsim.MiB(r1.UsedMemory))
	// The nodes' and this tool's own CPU over the same span: the cost of a
	// routed contact on the node, less noisy than latency on a busy machine.
	span := r1.At.Sub(r0.At).Seconds()
	nodeCPU, selfSec := (n1-n0)/100, self1-self0
	fmt.Printf("node CPU %.2f s (%.2f cores, %.2f s per 1,000 contacts); load tool CPU %.2f s (%.2f cores)\n", nodeCPU,
		nodeCPU/span, nodeCPU/float64(o.contacts)*1000, selfSec, selfSec/span)
	if profiled != nil {
		if err := profiled(); err != nil {
			fmt.Fprintln(os.Stderr, "lianxin-load: profile:", err)
		} else {
			fmt.Printf("profiles of node load-0 in %s (cpu.pprof, allocs.pprof)\n", o.profile)
		}
	}
	if o.wallboards > 0 {
		fmt.Printf("%d wallboard(s) got %d pushes during the run\n", o.wallboards, pushes.Load())
	}
	if waitErr != nil {
		// The figures above are of the offers that arrived.
		return fmt.Errorf("%w: %d of %d offers arrived", waitErr, rec.count(), o.contacts)
	}
	return nil
}

var loadQueues = []queue.Def{{Name: "general"}}

// desk is one agent's desk in the load: it accepts and wraps up every offer.
type desk struct {
	c *desktest.Client
}

func connectDesks(ctx context.Context, bases []string, n int, rec *recorder) ([]*desk, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = agentID(i)
	}
	clients, err := loadsim.ReadyDesks(ctx, bases, ids, "load")
	if err != nil {
		return nil, err
	}
	desks := make([]*desk, n)
	for i, c := range clients {
		desks[i] = &desk{c: c}
		go desks[i].work(ctx, rec)
	}
	return desks, nil
}

// work answers offers until the socket closes.
func (d *desk) work(ctx context.Context, rec *recorder) {
	for {
		m, err := d.c.Next(ctx, "offer", "error")
		if err != nil {
			return
		}
		d.c.Drop()
		if m.Type == "error" {
			rec.failed(m.Code, m.Message)
			continue
		}
		c := m.Object()
		rec.offered(c.Subject, m.Received)
		if _, err := d.c.Send("accept", map[string]any{"contact": c.TrackingNo}); err != nil {
			return
		}
		if _, err := d.c.Send("wrapup", map[string]any{"contact": c.TrackingNo, "request_type": "consultation",
			"outcome": "resolved"}); err != nil {
			return
		}
	}
}

func enqueueAll(ctx context.Context, o options, q *queue.Queue, base string, rec *recorder) error {
	var next atomic.Int64
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Duration(float64(time.Second) / o.rate)
	}
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for range o.workers {
		g.Go(func() error {
			for {
				i := int(next.Add(1)) - 1
				if i >= o.contacts {
					return nil
				}
				if interval > 0 {
					if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
						time.Sleep(d)
					}
				}
				subject := fmt.Sprintf("load-%d", i)
				rec.sent(i, time.Now())
				var err error
				if o.via == "http" {
					err = postLetter(gctx, base, subject)
				} else {
					// Under an idempotency key, as every provider's intake is.
					_, err = q.Enqueue(gctx, queue.Intake{Channel: queue.ChannelMailbox, Queue: "general", Line: "load",
						Subject: subject, Text: "load test", Citizen: queue.Citizen{Address: fmt.Sprintf("+86138%08d", i)}},
						fmt.Sprintf("load:%d:%d", start.UnixNano(), i))
				}
				if err != nil {
					return fmt.Errorf("contact %d: %w", i, err)
				}
			}
		})
	}
	return g.Wait()
}

func agentID(i int) string { return fmt.Sprintf("%d", 100000+i) }

var errTimeout = errors.New("timed out waiting for offers")

// recorder keeps each contact's enqueue time and offer latency.
type recorder struct {
	mu       sync.Mutex
	start    []time.Time
	lat      []time.Duration
	got      int
	lastSeen time.Time
	done     chan struct{}
	errors   map[string]int
	example  map[string]string
}

// failed counts a desk's error by its code, keeping the first message of
// each as the example.
func (r *recorder) failed(code, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.errors == nil {
		r.errors = map[string]int{}
		r.example = map[string]string{}
	}
	r.errors[code]++
	if r.example[code] == "" {
		r.example[code] = msg
	}
}

func newRecorder(n int) *recorder {
	return &recorder{start: make([]time.Time, n), lat: make([]time.Duration, 0, n), done: make(chan struct{})}
}

func (r *recorder) sent(i int, t time.Time) {
	r.mu.Lock()
	r.start[i] = t
	r.mu.Unlock()
}

func (r *recorder) offered(subject string, at time.Time) {
	var i int
	if _, err := fmt.Sscanf(strings.TrimPrefix(subject, "load-"), "%d", &i); err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if i < 0 || i >= len(r.start) || r.start[i].IsZero() {
		return
	}
	r.lat = append(r.lat, at.Sub(r.start[i]))
	r.start[i] = time.Time{} // a second offer of the same contact is not counted
	r.got++
	if at.After(r.lastSeen) {
		r.lastSeen = at
	}
	if r.got == len(r.start) {
		close(r.done)
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got
}

func (r *recorder) last() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastSeen
}

func (r *recorder) wait(ctx context.Context) error {
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return errTimeout
	}
}

// openWallboards opens n supervisors' wallboards on base; they read every
// push (counted, not parsed: the load's own process measures the offers)
// until the run ends.
func openWallboards(ctx context.Context, base string, n int) (*atomic.Int64, error) {
	var count atomic.Int64
	for range n {
		tok, err := desktest.Login(ctx, base, "999999", "load")
		if err != nil {
			return nil, err
		}
		u := "ws" + strings.TrimPrefix(base, "http") + "/wallboard/ws"
		conn, _, err := websocket.DefaultDialer.DialContext(ctx, u, http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			return nil, fmt.Errorf("wallboard: %w", err)
		}
		go func() {
			<-ctx.Done()
			_ = conn.Close()
		}()
		go func() {
			for {
				_, b, err := conn.ReadMessage()
				if err != nil {
					return
				}
				if bytes.HasPrefix(b, []byte(`{"type":"wallboard"`)) {
					count.Add(1)
				}
			}
		}()
	}
	return &count, nil
}
