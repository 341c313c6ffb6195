// Command lianxin-surge replays Chengdu's 8·25 surge — 1,587,900 contacts in
// 26 days — compressed in time, through a node's real intake endpoints (web
// letters, e-mail over SMTP, WeChat messages encrypted and signed as WeChat
// sends them, SMS pushed by Aliyun, Tencent Cloud and a generic signed
// provider) to simulated agents on real desk websockets, who accept and wrap
// up every offer. It reports contacts/s, enqueue-to-offer latency, service
// level, Redis's CPU and memory over the run (INFO), and checks that every
// contact the node acknowledged reached a desk exactly once.
//
//	go run ./cmd/lianxin-surge -scale 20 -speed 7488   # 1/20 of the surge in 5 minutes
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
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	contactsCap int // if > 0, at most this many contacts (for tests)
}

func main() {
	var o options
	flag.IntVar(&o.scale, "scale", 20, "replay 1/N of the surge's 1,587,900 contacts")
	flag.Float64Var(&o.speed, "speed", 1248, "time compression: simulated seconds per second (1248: the 26 days in 30 minutes)")
	flag.DurationVar(&o.duration, "duration", 0, "the replay's length; overrides -speed")
	flag.IntVar(&o.agents, "agents", 500, "ready agents (desks on websockets)")
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
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, o)
	if res != nil {
		res.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lianxin-surge:", err)
		os.Exit(1)
	}
	if res.Lost > 0 || res.Duplicated > 0 || res.Mismatched > 0 {
		os.Exit(2)
	}
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
	NodeRSS                                                                           string
	Wrapups                                                                           map[string]int
	DeskErrors                                                                        map[string]int
	RefusedBy                                                                         map[string]int
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

	dir, err := os.MkdirTemp("", "lianxin-surge-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
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
	cfg, err := writeConfig(dir, base, o, api.URL)
	if err != nil {
		return nil, err
	}
	smtpPort, err := loadsim.FreePort()
	if err != nil {
		return nil, err
	}
	smtpAddr := fmt.Sprintf("127.0.0.1:%d", smtpPort)
	nodeURL, node, stopNode, err := loadsim.StartNode(ctx, o.bin, cfg, o.redisURL, "surge-0", dir, "LIANXIN_SMTP_ADDR="+smtpAddr)
	if err != nil {
		return nil, err
	}
	defer stopNode()

	led := newLedger(n)
	ids := make([]string, o.agents)
	for i := range ids {
		ids[i] = agentID(i)
	}
	desks, err := loadsim.ReadyDesks(ctx, []string{nodeURL}, ids, "load")
	if err != nil {
		return nil, err
	}
	dctx, stopDesks := context.WithCancel(ctx)
	defer stopDesks()
	var deskWG sync.WaitGroup
	for _, d := range desks {
		deskWG.Add(1)
		go func() { defer deskWG.Done(); work(dctx, d, led, o.handle) }()
	}
	defer func() {
		stopDesks()
		for _, d := range desks {
			_ = d.Close()
		}
		deskWG.Wait()
	}()
	o.logf("redis %s, node %s (SMTP %s), %d desks ready; replaying %d contacts (1/%d of the surge) over %s",
		o.redisURL, nodeURL, smtpAddr, len(desks), n, o.scale, span.Round(time.Second))

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
	res := &result{Contacts: n, SL: o.sl, RedisMemStart: r0.UsedMemory, RedisMemPeak: r0.UsedMemory,
		RedisIdleCores: (r0.CPU - idle0.CPU) / r0.At.Sub(idle0.At).Seconds()}
	start := time.Now()
	led.start = start
	mon := startMonitor(ctx, o, rdb, led, r0, res)

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
	o.logf("all %d contacts sent in %s; waiting for their offers", n, res.Sent.Round(time.Millisecond))
	led.waitOffers(ctx, o.drain)
	mon.stop()
	r1, err := loadsim.SampleRedis(ctx, rdb)
	if err != nil {
		return nil, err
	}
	cpu1, _ := loadsim.CPUTicks(node.Process.Pid)
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

// work is a simulated agent: it accepts every offer, holds it handle, and
// wraps it up with the request type and outcome the mix gives it.
func work(ctx context.Context, d *desktest.Client, led *ledger, handle time.Duration) {
	for {
		m, err := d.Next(ctx, "offer", "error")
		if err != nil {
			return
		}
		d.Drop()
		if m.Type == "error" {
			led.deskError(m.Code, m.Message)
			continue
		}
		c := m.Object()
		i := -1
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
	fmt.Fprintf(w, "service level: %.2f%% offered within %s of intake\n", r.ServiceLevel*100, r.SL)
	fmt.Fprintf(w, "redis: CPU %.1f s (%.2f cores on average, %.2f in the busiest 2 s, %.2f idle with the desks ready; %.0f µs per contact); used_memory %s at the start, %s at the peak, %s at the end (%d keys; %.2f KiB per contact)\n",
		r.RedisCPU, r.RedisCores, r.RedisPeakCores, r.RedisIdleCores, r.RedisCPU/float64(max(r.Contacts, 1))*1e6,
		loadsim.MiB(r.RedisMemStart), loadsim.MiB(r.RedisMemPeak), loadsim.MiB(r.RedisMemEnd), r.RedisKeysEnd,
		float64(r.RedisMemEnd-r.RedisMemStart)/1024/float64(max(r.Contacts, 1)))
	fmt.Fprintf(w, "node: CPU %.1f s, RSS %s\n", r.NodeCPU, r.NodeRSS)
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
