// Command lianxin-surge replays Chengdu's 8·25 surge — 1,587,900 contacts in
// 26 days — compressed in time, through a node's real intake endpoints (calls
// to 12345 placed by sipp, web letters, e-mail over SMTP, WeChat messages
// encrypted and signed as WeChat sends them, SMS pushed by Aliyun, Tencent
// Cloud and a generic signed provider) to simulated agents on real desk
// websockets, who accept and wrap up every offer (a call: their phone, one
// sipp for all, rings, answers and hangs up). It reports contacts/s,
// intake-to-offer latency, service level, the calls offered, answered, lost
// and duplicated, Redis's CPU and memory over the run (INFO), and checks that
// every contact the node acknowledged reached a desk exactly once.
//
//	go run ./cmd/lianxin-surge -scale 20   # 1/20 of the surge in 30 minutes, 60 % of it calls
//
// The seed gives the surge's totals only; the daily and hourly shape, the
// channels' shares and the request types are assumptions (shape.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/channels/wechat"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/internal/loadsim"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
)

type options struct {
	scale       int           // replay 1/scale of the surge's contacts
	speed       float64       // simulated seconds per real second
	duration    time.Duration // if set, the replay's length (overrides speed)
	agents      int
	capacity    int // each desk's capacity per text channel
	handle      time.Duration
	workers     int
	mix         string
	redisURL    string
	bin         string
	sl          time.Duration // service level's threshold
	drain       time.Duration // give up waiting for offers after this long without one
	retries     int
	progress    time.Duration
	quiet       bool
	contactsCap int           // if > 0, at most this many contacts (for tests)
	talk        time.Duration // a call's talk, from the agent's answer to the agent's hang-up (real time)
	ring        time.Duration // how long an agent's phone rings before it answers
	sippDir     string        // testdata/sipp (empty: found from the working directory up)
	noMedia     bool          // calls without RTP from the callers and the phones (-media=false)
	debugAddr   string        // the node's profiler (LIANXIN_DEBUG_ADDR), empty: none
	keep        bool          // keep the run's folder
}

func main() {
	var o options
	flag.IntVar(&o.scale, "scale", 20, "replay 1/N of the surge's 1,587,900 contacts")
	flag.Float64Var(&o.speed, "speed", 1248, "time compression: simulated seconds per second (1248: the 26 days in 30 minutes)")
	flag.DurationVar(&o.duration, "duration", 0, "the replay's length; overrides -speed")
	flag.IntVar(&o.agents, "agents", 500, "ready agents (desks on websockets, each with a SIP phone)")
	flag.IntVar(&o.capacity, "capacity", 3, "each desk's capacity per text channel")
	flag.DurationVar(&o.handle, "handle", 0, "how long a desk holds a contact between accept and wrap-up")
	flag.IntVar(&o.workers, "workers", 64, "concurrent senders (the providers' connections)")
	flag.StringVar(&o.mix, "mix", defaultMix, "channels' shares")
	flag.StringVar(&o.redisURL, "redis", "", "Redis URL (empty: start a redis-server on a free port; it is flushed)")
	flag.StringVar(&o.bin, "bin", "", "lianxin binary (empty: go build ./cmd/lianxin)")
	flag.DurationVar(&o.sl, "sl", 20*time.Second, "service level's threshold: offered within it of intake")
	flag.DurationVar(&o.drain, "drain", 2*time.Minute, "after the last contact, wait this long without an offer before counting the rest lost")
	flag.IntVar(&o.retries, "retries", 10, "times a provider sends a contact again after a temporary failure")
	flag.DurationVar(&o.progress, "progress", 10*time.Second, "progress line every")
	flag.DurationVar(&o.talk, "talk", 2*time.Second, "a call's talk before the agent hangs up (real time: calls are not compressed)")
	flag.DurationVar(&o.ring, "ring", 300*time.Millisecond, "how long an agent's phone rings before it answers")
	flag.StringVar(&o.sippDir, "sipp-dir", "", "the sipp scenarios, testdata/sipp (empty: found from the working directory up)")
	media := flag.Bool("media", true, "calls carry RTP: the callers' tone and the phones' tone, both ways (false: the sipps send no RTP; the node still plays its prompts)")
	flag.StringVar(&o.debugAddr, "debug", "", "serve the node's Go profiler on this address (LIANXIN_DEBUG_ADDR, e.g. 127.0.0.1:6060)")
	flag.BoolVar(&o.keep, "keep", false, "keep the run's folder (the node's log, the sipps' logs and statistics)")
	cpuProfile := flag.String("cpuprofile", "", "write this tool's own CPU profile to the file (the node's: -debug)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "lianxin-surge:", err)
			os.Exit(2)
		}
	}
	o.noMedia = !*media
	code := replay(o)
	pprof.StopCPUProfile() // nothing when not started
	os.Exit(code)
}

// replay runs the replay and prints its result; it returns the exit code.
func replay(o options) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o)
	if res != nil {
		res.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lianxin-surge:", err)
		return 1
	}
	if res.Lost > 0 || res.Duplicated > 0 || res.Mismatched > 0 || res.Calls.SippError != "" {
		return 2
	}
	return 0
}

// result is what a replay measured.
type result struct {
	Contacts, Acked, Refused, Offered, Lost, Duplicated, Mismatched, Unacked, Retries int
	ByChannel                                                                         map[channel]int
	LatByChannel                                                                      map[channel][2]time.Duration // p50, p99
	Span, Sent, Routed                                                                time.Duration
	IntakeRate, RoutedRate, PeakRate                                                  float64
	MaxBehind                                                                         time.Duration
	P50, P90, P99, Max                                                                time.Duration
	ServiceLevel                                                                      float64
	SL                                                                                time.Duration
	RedisCPU, RedisCores, RedisPeakCores, RedisIdleCores                              float64
	RedisMemStart, RedisMemPeak, RedisMemEnd                                          int64
	RedisKeysEnd                                                                      int64
	NodeCPU                                                                           float64
	NodePaced, NodeRTPOut, NodeRTPIn                                                  float64 // RTP packets: prompts and hold audio; all sent; all received
	ToolCPU                                                                           float64 // this process's CPU: the senders, the desks, the ledger
	NodeRSS                                                                           string
	Wrapups                                                                           map[string]int
	DeskErrors                                                                        map[string]int
	RefusedBy                                                                         map[string]int
	Rescinded                                                                         map[string]int
	AgentsEnd                                                                         map[string]int   // the agents' states at the end (not_ready with its reason)
	Callbacks                                                                         int              // callback offers the desks accepted
	WrittenLat                                                                        [3]time.Duration // p50, p90, p99 of the written contacts
	Calls                                                                             callResult
}

// callResult counts the replay's calls.
type callResult struct {
	Calls      int // in the schedule
	Placed     int // INVITE sent by sipp
	Answered   int // answered by the gateway (200): acknowledged
	Refused    int // refused by the gateway
	Offered    int // offered to a desk
	Requeued   int // offered more than once (e.g. a phone that did not answer in time)
	Taken      int // answered by an agent's phone (the desk's "assigned")
	Unanswered int // offered, never answered by an agent
	Ended      int // hung up by the gateway after the agent's hang-up
	Abandoned  int // the caller gave up (120 s after the gateway answered)
	Lost       int // answered by the gateway, never offered, and the caller did not give up
	// AbandonedWaiting: answered, never offered, the caller gave up waiting
	// (120 s after the answer): an abandon, not lost.
	AbandonedWaiting int
	Duplicated       int // offered under two tracking numbers (queued twice)
	// Behind is how late sipp placed a call at worst, against the schedule.
	Behind time.Duration
	// ToOffer is INVITE to offer (the welcome prompt included); Queued is
	// the gateway's answer to the offer; Ring the offer to the phone's
	// answer (p50, p90, p99).
	ToOffer, Queued, Ring [3]time.Duration
	Peak                  float64 // most calls the node held at once (its lianxin_sip_calls, every 2 s)
	CallersCPU, PhonesCPU float64 // the two sipps' CPU seconds
	SippCallers           string  // the callers' sipp's own counts
	SippPhones            string
	SippError             string // why the callers' sipp ended before its calls did
}

func run(ctx context.Context, o options) (*result, error) {
	if o.scale < 1 {
		return nil, fmt.Errorf("-scale: %d is not ≥ 1", o.scale)
	}
	mix, err := parseMix(o.mix)
	if err != nil {
		return nil, err
	}
	n := (surgeContacts + o.scale/2) / o.scale
	if o.contactsCap > 0 {
		n = min(n, o.contactsCap)
	}
	span := o.duration
	if span <= 0 {
		if o.speed <= 0 {
			return nil, fmt.Errorf("-speed: %g is not > 0", o.speed)
		}
		span = time.Duration(float64(surgeDays*24*time.Hour) / o.speed)
	}
	plan := schedule(n, span, mix)
	var calls []int
	var callAt []time.Duration
	for i, a := range plan {
		if a.channel == chanVoice {
			calls = append(calls, i)
			callAt = append(callAt, a.at)
		}
	}
	var v *voice
	if len(calls) > 0 {
		if _, err := exec.LookPath("sipp"); err != nil {
			return nil, fmt.Errorf("calls need sipp (Debian sip-tester), or a -mix without voice: %w", err)
		}
		scen, err := sippDir(o)
		if err != nil {
			return nil, err
		}
		v = &voice{o: o, scen: scen}
	}

	dir, err := os.MkdirTemp("", "lianxin-surge-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		o.logf("the run's files (the node's log, the sipps' logs and statistics) are kept in %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if o.redisURL == "" {
		url, stop, err := loadsim.StartRedis(ctx, dir)
		if err != nil {
			return nil, err
		}
		defer stop()
		o.redisURL = url
	}
	if o.bin == "" {
		o.logf("building lianxin …")
		if o.bin, err = loadsim.Build(ctx, dir); err != nil {
			return nil, err
		}
	}
	ropt, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return nil, err
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return nil, err
	}

	base, err := configs.Load("", func(string) string { return "" })
	if err != nil {
		return nil, err
	}
	directory, err := configs.LoadDirectory(base)
	if err != nil {
		return nil, err
	}
	api := httptest.NewServer(http.HandlerFunc(fakeWeChatAPI))
	defer api.Close()
	cfg, err := writeConfig(dir, base, o, api.URL, len(calls))
	if err != nil {
		return nil, err
	}
	var env []string
	if o.debugAddr != "" {
		env = append(env, "LIANXIN_DEBUG_ADDR="+o.debugAddr)
	}
	sn, stopNode, err := loadsim.StartNode(ctx, o.bin, cfg, o.redisURL, "surge-0", dir, env...)
	if err != nil {
		return nil, err
	}
	defer stopNode()
	nodeURL, smtpAddr, sipAddr, metrics, node := sn.Base, sn.SMTP, sn.SIP, sn.Metrics, sn.Cmd

	led := newLedger(n)
	ids := make([]string, o.agents)
	for i := range ids {
		ids[i] = agentID(i)
	}
	desks, err := loadsim.ReadyDesks(ctx, []string{nodeURL}, ids, "load")
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		led.agentState(id, "ready", "")
	}
	dctx, stopDesks := context.WithCancel(ctx)
	defer stopDesks()
	var deskWG sync.WaitGroup
	for i, d := range desks {
		deskWG.Add(1)
		go func() { defer deskWG.Done(); work(dctx, ids[i], d, led, o.handle) }()
	}
	defer func() {
		stopDesks()
		for _, d := range desks {
			_ = d.Close()
		}
		deskWG.Wait()
	}()
	if v != nil {
		v.dir, v.gw = dir, sipAddr
		defer v.stop()
		if err := v.startPhones(ctx, ids); err != nil {
			return nil, err
		}
		o.logf("%d agents' phones registered (one sipp answering for all: rings %s, talks %s)", len(ids), o.ring, o.talk)
	}
	o.logf("redis %s, node %s (SMTP %s, SIP %s), %d desks ready; replaying %d contacts (1/%d of the surge; %d calls) over %s",
		o.redisURL, nodeURL, smtpAddr, sipAddr, len(desks), n, o.scale, len(calls), span.Round(time.Second))

	crypt, err := wechat.NewCrypter(wechatToken, wechatAESKey, "", wechatAppID)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = o.workers, o.workers
	in := &intake{base: nodeURL, smtpAddr: smtpAddr, boxes: directory.Mailboxes, crypt: crypt,
		hc: &http.Client{Transport: tr, Timeout: time.Minute}}

	// Redis's CPU with the desks ready and nothing to route: the nodes'
	// heartbeats and sweeps, the baseline of the figures below.
	idle0, err := loadsim.SampleRedis(ctx, rdb)
	if err != nil {
		return nil, err
	}
	time.Sleep(3 * time.Second)
	r0, err := loadsim.SampleRedis(ctx, rdb)
	if err != nil {
		return nil, err
	}
	cpu0, _ := loadsim.CPUTicks(node.Process.Pid)
	rtp0 := nodeRTP(ctx, metrics)
	self0, _ := loadsim.CPUTicks(os.Getpid())
	res := &result{Contacts: n, SL: o.sl, RedisMemStart: r0.UsedMemory, RedisMemPeak: r0.UsedMemory,
		RedisIdleCores: (r0.CPU - idle0.CPU) / r0.At.Sub(idle0.At).Seconds()}
	if v != nil {
		if err := v.startCallers(ctx, calls); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	led.start = start
	mon := startMonitor(ctx, o, rdb, led, r0, res, metrics)
	paced := make(chan error, 1)
	if v != nil {
		go func() { paced <- v.pace(ctx, start, callAt) }()
	}

	var next, retries atomic.Int64
	var behind atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range o.workers {
		g.Go(func() error {
			var mail *smtp.Client
			defer func() {
				if mail != nil {
					_ = mail.Quit()
				}
			}()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return nil
				}
				if plan[i].channel == chanVoice {
					continue // sipp places it
				}
				due := start.Add(plan[i].at)
				if d := time.Until(due); d > 0 {
					select {
					case <-time.After(d):
					case <-gctx.Done():
						return gctx.Err()
					}
				} else if -d > time.Duration(behind.Load()) {
					behind.Store(int64(-d))
				}
				led.sent(i, plan[i].channel, time.Now())
				var tn string
				var err error
				for try := 0; ; try++ {
					tn, err = in.send(gctx, i, plan[i].channel, &mail)
					if err == nil || !errors.Is(err, errRetry) || try >= o.retries || gctx.Err() != nil {
						break
					}
					retries.Add(1)
					time.Sleep(time.Duration(100*(try+1)) * time.Millisecond)
				}
				led.acked(i, tn, err, time.Now())
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res.Sent = time.Since(start)
	if v != nil {
		o.logf("the written contacts sent in %s; waiting for the calls to end", res.Sent.Round(time.Millisecond))
		if err := <-paced; err != nil {
			res.Calls.SippError = fmt.Sprintf("pacing the calls: %v", err)
		}
		if err := v.wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			res.Calls.SippError = err.Error() // the calls it did not place count as refused
		}
		res.Calls.PhonesCPU = loadsim.CPUSeconds(v.phones.Cmd)
		res.Calls.CallersCPU = loadsim.CPUSeconds(v.callers)
		res.Calls.SippCallers = loadsim.SippCounts(filepath.Join(dir, "callers.csv"))
		res.Calls.SippPhones = loadsim.SippCounts(v.phones.Stats)
		evs, err := v.readCallLog()
		if err != nil {
			return nil, fmt.Errorf("the callers' log: %w", err)
		}
		last := led.calls(evs, calls)
		res.Sent = max(res.Sent, last.Sub(start))
	}
	o.logf("all %d contacts sent in %s; waiting for their offers", n, res.Sent.Round(time.Millisecond))
	led.waitOffers(ctx, o.drain)
	mon.stop()
	r1, err := loadsim.SampleRedis(ctx, rdb)
	if err != nil {
		return nil, err
	}
	cpu1, _ := loadsim.CPUTicks(node.Process.Pid)
	rtp1 := nodeRTP(ctx, metrics)
	self1, _ := loadsim.CPUTicks(os.Getpid())
	res.ToolCPU = (self1 - self0) / 100
	res.NodePaced, res.NodeRTPOut, res.NodeRTPIn = rtp1[0]-rtp0[0], rtp1[1]-rtp0[1], rtp1[2]-rtp0[2]
	res.Retries = int(retries.Load())
	res.MaxBehind = time.Duration(behind.Load())
	res.NodeCPU = (cpu1 - cpu0) / 100
	res.NodeRSS = loadsim.RSS(node.Process.Pid)
	res.RedisCPU = r1.CPU - r0.CPU
	res.RedisMemEnd, res.RedisKeysEnd = r1.UsedMemory, r1.Keys
	res.RedisMemPeak = max(res.RedisMemPeak, r1.UsedMemory)
	led.fill(res, plan)
	res.RedisCores = res.RedisCPU / res.Routed.Seconds()
	return res, nil
}

func (o options) logf(format string, args ...any) {
	if !o.quiet {
		fmt.Printf(format+"\n", args...)
	}
}

func agentID(i int) string { return strconv.Itoa(100000 + i) }

// work is a simulated agent: it accepts every written contact's offer,
// holds it handle, and wraps it up with the request type and outcome the
// mix gives it; a call it leaves to its phone (answering accepts it) and
// wraps up once the call has ended; a callback it accepts (the gateway then
// rings its phone and calls the citizen back).
func work(ctx context.Context, id string, d *desktest.Client, led *ledger, handle time.Duration) {
	calls := map[string]int{} // tracking number → index, of the calls offered
	for {
		m, err := d.Next(ctx, "offer", "error", "assigned", "ended", "rescinded", "state")
		if err != nil {
			return
		}
		d.Drop()
		switch m.Type {
		case "state":
			led.agentState(id, m.State, m.Reason)
			continue
		case "error":
			led.deskError(m.Code, m.Message)
			continue
		case "assigned":
			if len(calls) == 0 {
				continue // a text contact's, accepted below: nothing to note
			}
			if i, ok := calls[m.TrackingNo()]; ok {
				led.taken(i, m.Received)
			}
			continue
		case "rescinded":
			led.rescinded(m.Reason)
			continue
		case "ended":
			tn := m.TrackingNo()
			i, ok := calls[tn]
			if !ok {
				continue
			}
			delete(calls, tn)
			rt, outcome := wrapup(max(i, 0))
			led.wrapped(rt + "/" + outcome)
			if _, err := d.Send("wrapup", map[string]any{"contact": tn, "request_type": rt, "outcome": outcome}); err != nil {
				return
			}
			continue
		}
		c := m.Object()
		i := -1
		if c.Channel == string(chanVoice) {
			i = callIndex(c.Citizen.Phone)
			calls[c.TrackingNo] = i
			led.offered(i, c.TrackingNo, m.Received)
			if c.Callback {
				// A caller to call back (their call lost on a starved
				// node, say): the agent takes it on the desk; left alone
				// it would expire again and again, each time a miss that
				// sets the agent not ready after three.
				led.callback()
				if _, err := d.Send("accept", map[string]any{"contact": c.TrackingNo}); err != nil {
					return
				}
			}
			continue
		}
		if sm := markerRE.FindStringSubmatch(c.Subject + " " + c.Text); sm != nil {
			i, _ = strconv.Atoi(sm[1])
		}
		led.offered(i, c.TrackingNo, m.Received)
		if _, err := d.Send("accept", map[string]any{"contact": c.TrackingNo}); err != nil {
			return
		}
		if handle > 0 {
			time.Sleep(handle)
		}
		rt, outcome := wrapup(max(i, 0))
		led.wrapped(rt + "/" + outcome)
		if _, err := d.Send("wrapup", map[string]any{"contact": c.TrackingNo, "request_type": rt,
			"outcome": outcome}); err != nil {
			return
		}
	}
}

// nodeRTP reads the node's RTP counters: packets paced (prompts and hold
// audio), sent and received on all legs.
func nodeRTP(ctx context.Context, metrics string) [3]float64 {
	m, err := loadsim.Scrape(ctx, metrics)
	if err != nil {
		return [3]float64{}
	}
	var out [3]float64
	for k, v := range m {
		switch {
		case k == "lianxin_sip_pacer_packets_total":
			out[0] += v
		case strings.HasPrefix(k, "lianxin_sip_rtp_packets_total{") && strings.Contains(k, `direction="out"`):
			out[1] += v
		case strings.HasPrefix(k, "lianxin_sip_rtp_packets_total{") && strings.Contains(k, `direction="in"`):
			out[2] += v
		}
	}
	return out
}

// fakeWeChatAPI answers the WeChat API calls a node may make (the access
// token, customer-service messages) as WeChat does.
func fakeWeChatAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/cgi-bin/token" {
		fmt.Fprint(w, `{"access_token":"SURGE-TOKEN","expires_in":7200}`)
		return
	}
	fmt.Fprint(w, `{"errcode":0,"errmsg":"ok"}`)
}

// print writes the report.
func (r *result) print(w io.Writer) {
	fmt.Fprintf(w, "\n== surge replay: %d contacts ==\n", r.Contacts)
	var chans []string
	for c, k := range r.ByChannel {
		lat := r.LatByChannel[c]
		chans = append(chans, fmt.Sprintf("%s %d (p50 %s, p99 %s)", c, k, ms(lat[0]), ms(lat[1])))
	}
	sort.Strings(chans)
	fmt.Fprintf(w, "channels: %s\n", strings.Join(chans, ", "))
	fmt.Fprintf(w, "acknowledged %d, refused %d (%v), provider retries %d; sent in %s (%.0f contacts/s, the busiest %s %.0f/s; at worst %s behind the schedule)\n",
		r.Acked, r.Refused, r.RefusedBy, r.Retries, r.Sent.Round(time.Millisecond), r.IntakeRate, "second", r.PeakRate,
		r.MaxBehind.Round(time.Millisecond))
	fmt.Fprintf(w, "offered %d in %s: %.0f contacts/s routed\n", r.Offered, r.Routed.Round(time.Millisecond), r.RoutedRate)
	fmt.Fprintf(w, "intake-to-offer on the websocket: p50 %s  p90 %s  p99 %s  max %s\n", ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
	fmt.Fprintf(w, "  the written contacts: p50 %s  p90 %s  p99 %s\n", ms(r.WrittenLat[0]), ms(r.WrittenLat[1]), ms(r.WrittenLat[2]))
	fmt.Fprintf(w, "service level: %.2f%% offered within %s of intake\n", r.ServiceLevel*100, r.SL)
	if c := r.Calls; c.Calls > 0 {
		fmt.Fprintf(w, "calls: %d in the schedule, %d placed by sipp (at worst %s behind the schedule), %d answered by the gateway, %d refused; offered %d (%d more than once), answered by an agent's phone %d, never answered by one %d; hung up by the gateway after the talk %d, abandoned by the caller %d\n",
			c.Calls, c.Placed, c.Behind.Round(time.Millisecond), c.Answered, c.Refused, c.Offered, c.Requeued, c.Taken,
			c.Unanswered, c.Ended, c.Abandoned)
		fmt.Fprintf(w, "  INVITE to offer (the welcome prompt included): p50 %s  p90 %s  p99 %s; the gateway's answer to the offer p50 %s  p99 %s; offer to the phone's answer p50 %s  p99 %s\n",
			ms(c.ToOffer[0]), ms(c.ToOffer[1]), ms(c.ToOffer[2]), ms(c.Queued[0]), ms(c.Queued[2]), ms(c.Ring[0]), ms(c.Ring[2]))
		fmt.Fprintf(w, "  at most %.0f calls held by the node at once; sipp CPU: callers %.1f s, phones %.1f s; callers' sipp: %s; phones' sipp: %s\n",
			c.Peak, c.CallersCPU, c.PhonesCPU, c.SippCallers, c.SippPhones)
		if c.SippError != "" {
			fmt.Fprintf(w, "  THE CALLERS' SIPP FAILED: %.600s\n", c.SippError)
		}
		fmt.Fprintf(w, "  calls lost %d, duplicated %d; abandoned waiting before any offer %d\n", c.Lost, c.Duplicated, c.AbandonedWaiting)
	}
	if len(r.Rescinded) > 0 {
		fmt.Fprintf(w, "offers rescinded: %v\n", r.Rescinded)
	}
	fmt.Fprintf(w, "agents at the end: %v; callback offers accepted by the desks: %d\n", r.AgentsEnd, r.Callbacks)
	fmt.Fprintf(w, "redis: CPU %.1f s (%.2f cores on average, %.2f in the busiest 2 s, %.2f idle with the desks ready; %.0f µs per contact); used_memory %s at the start, %s at the peak, %s at the end (%d keys; %.2f KiB per contact)\n",
		r.RedisCPU, r.RedisCores, r.RedisPeakCores, r.RedisIdleCores, r.RedisCPU/float64(max(r.Contacts, 1))*1e6,
		loadsim.MiB(r.RedisMemStart), loadsim.MiB(r.RedisMemPeak), loadsim.MiB(r.RedisMemEnd), r.RedisKeysEnd,
		float64(r.RedisMemEnd-r.RedisMemStart)/1024/float64(max(r.Contacts, 1)))
	fmt.Fprintf(w, "node: CPU %.1f s (%.0f µs per contact), RSS %s; RTP packets sent %.0f (%.0f of them prompts and hold audio), received %.0f\n",
		r.NodeCPU, r.NodeCPU/float64(max(r.Contacts, 1))*1e6, r.NodeRSS, r.NodeRTPOut, r.NodePaced, r.NodeRTPIn)
	fmt.Fprintf(w, "this tool (senders, desks, ledger): CPU %.1f s\n", r.ToolCPU)
	var wr []string
	for k, v := range r.Wrapups {
		wr = append(wr, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(wr)
	fmt.Fprintf(w, "wrap-ups: %s\n", strings.Join(wr, ", "))
	for k, v := range r.DeskErrors {
		fmt.Fprintf(w, "desk errors: %d × %s\n", v, k)
	}
	fmt.Fprintf(w, "lost %d, duplicated %d, tracking number differs from the acknowledgement %d (offered but never acknowledged: %d)\n",
		r.Lost, r.Duplicated, r.Mismatched, r.Unacked)
}

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}
