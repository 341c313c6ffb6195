package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/lianxin/lianxin/agentdesk"
	"github.com/lianxin/lianxin/archive"
	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/channels/connlimit"
	"github.com/lianxin/lianxin/channels/email"
	"github.com/lianxin/lianxin/channels/linkage"
	"github.com/lianxin/lianxin/channels/mailbox"
	"github.com/lianxin/lianxin/channels/rating"
	"github.com/lianxin/lianxin/channels/sms"
	"github.com/lianxin/lianxin/channels/wechat"
	"github.com/lianxin/lianxin/clusters"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/hottopic"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"
)

// serve runs the gateway until the first SIGINT/SIGTERM, then drains: the
// node stops being ready, desks are told to reconnect elsewhere, their open
// offers return to the queue, in-flight requests finish. A second signal
// ends the process at once.
func serve(ctx context.Context, path string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := configs.Load(path, getenv)
	if err != nil {
		return err
	}
	dir, err := configs.LoadDirectory(cfg)
	if err != nil {
		return err
	}
	log, err := newLogger(getenv("LIANXIN_LOG"))
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	log = log.With(zap.String("node", cfg.NodeID))

	rdb, stopStore, err := openRedis(cfg.Redis, log)
	if err != nil {
		return err
	}
	defer stopStore()
	defer rdb.Close()

	ctx, stop := signalContext(ctx, log)
	defer stop()

	n, err := newNode(cfg, dir, rdb, log)
	if err != nil {
		return err
	}
	ln, err := n.listen(cfg.HTTP)
	if err != nil {
		return err
	}
	if err := n.voice.Listen(); err != nil {
		_ = ln.Close()
		return err
	}
	if err := n.mail.Listen(); err != nil {
		_ = ln.Close()
		return err
	}
	if cfg.Metrics.Addr != "" {
		if n.metricsLn, err = net.Listen("tcp", cfg.Metrics.Addr); err != nil {
			_ = ln.Close()
			return fmt.Errorf("metrics.addr: %w", err)
		}
	}
	if addr := getenv("LIANXIN_DEBUG_ADDR"); addr != "" {
		go serveDebug(addr, log)
	}
	fields := []zap.Field{zap.String("http", ln.Addr().String()), zap.String("desk", deskURL(ln.Addr())),
		zap.Stringer("sip", n.voice.Addr()), zap.Stringer("smtp", n.mail.Addr()),
		zap.Int("hotlines", len(dir.Hotlines)), zap.Int("mailboxes", len(dir.Mailboxes)), zap.Int("agents", len(cfg.Agents))}
	if n.metricsLn != nil {
		fields = append(fields, zap.String("metrics", "http://"+n.metricsLn.Addr().String()+"/metrics"))
	}
	log.Info("serving", fields...)
	return n.run(ctx, ln, cfg.HTTP.DrainTimeout)
}

// node is one running gateway, wired.
type node struct {
	q *queue.Queue
	// runners are the channels' long-running parts (listeners, binds,
	// background fetchers), stopped after the HTTP server.
	runners []interface{ Run(context.Context) error }
	rdb     redis.UniversalClient
	desk    *agentdesk.Server
	voice   *sip.Server
	// mail is the e-mail channel (one of runners), whose listener opens at
	// start with the others.
	mail *email.Server
	srv  *http.Server
	// metrics serves /metrics on metricsLn, when there is one.
	metrics   *http.Server
	metricsLn net.Listener
	log       *zap.Logger
	draining  atomic.Bool
	// trusted are the front proxies (http.trusted_proxies); httpLn is the
	// HTTP listener with its connection limits.
	trusted []netip.Prefix
	httpLn  *connlimit.Listener
	// store is the archive, when there is one (closed at the end), and
	// archiver its archiver.
	store    queue.ArchiveReader
	archiver *archive.Archiver
	// stopBG ends what runs from newNode on (the archive's connecting).
	stopBG func()
}

func newNode(cfg *configs.Config, dir *configs.Directory, rdb redis.UniversalClient, log *zap.Logger) (*node, error) {
	defs := make([]queue.Def, len(cfg.Queues))
	for i, d := range cfg.Queues {
		defs[i] = queue.Def{Name: d.Name, Title: d.Title, Priority: d.Priority}
		for _, st := range d.Escalation {
			defs[i].Escalation = append(defs[i].Escalation, queue.Step{After: st.After, To: st.To})
		}
	}
	qo := queue.Options{Tag: cfg.Redis.Tag, NodeID: cfg.NodeID, OfferTimeout: cfg.Queue.OfferTimeout,
		RingTimeout: cfg.SIP.RingTimeout, MaxMisses: cfg.Queue.MaxMisses, Heartbeat: cfg.Queue.Heartbeat,
		NodeTTL: cfg.Queue.NodeTTL, Sweep: cfg.Queue.Sweep, Retention: cfg.Queue.Retention,
		KeepEvents: cfg.Queue.KeepEvents, MaxEventLag: cfg.Queue.MaxEventLag, Queues: defs, Logger: log.Named("queue"),
		WaitReplicas: cfg.Redis.WaitReplicas, WaitTimeout: cfg.Redis.WaitTimeout, LegacyEvents: cfg.Queue.LegacyEvents}
	// The archive connects in the background: the node starts while
	// PostgreSQL is down, events wait in Redis until it is reachable.
	bgCtx, bgCancel := context.WithCancel(context.Background())
	built := false
	defer func() {
		if !built {
			bgCancel()
		}
	}()
	if cfg.Database.URL != "" {
		store, err := archive.OpenBackground(bgCtx, cfg.Database.URL, 0, log.Named("archive"))
		if err != nil {
			return nil, fmt.Errorf("database: %w", err)
		}
		// The archiver trims the stream below what it archived; its group
		// holds the stream back however far behind it is.
		qo.EventsMaxLen, qo.Archive, qo.KeepGroups = -1, store, []string{archive.DefaultGroup}
		log.Info("archive on: events and closed contacts go to PostgreSQL",
			zap.Duration("retention", cfg.Database.Retention))
	} else {
		log.Warn("ARCHIVE OFF: no database.url (LIANXIN_DATABASE_URL) is set, so nothing is archived, old events "+
			"leave the stream, closed contacts leave Redis after queue.retention and there are no reports",
			zap.Duration("retention", cfg.Queue.Retention), zap.Duration("keep_events", cfg.Queue.KeepEvents))
	}
	q, err := queue.New(rdb, qo)
	if err != nil {
		return nil, err
	}
	blobs, err := openBlobs(cfg.Blobs, log)
	if err != nil {
		return nil, err
	}
	agents := make([]agentdesk.Agent, len(cfg.Agents))
	var demo []string
	for i, a := range cfg.Agents {
		caps := map[queue.Channel]int{}
		for ch, n := range a.Capacity {
			caps[queue.Channel(ch)] = n
		}
		agents[i] = agentdesk.Agent{Profile: queue.Profile{ID: a.ID, Name: a.Name, Skills: a.Skills, Capacity: caps},
			PasswordHash: a.PasswordHash, Supervisor: a.Role == "supervisor"}
		if isDemoHash(a.PasswordHash) {
			demo = append(demo, a.ID)
		}
	}
	if len(demo) > 0 {
		log.Warn("DEMO AGENTS: these agents log in with the password \"demo\"; give them real passwords "+
			"(lianxin hash-password) before citizens' data comes in", zap.Strings("agents", demo))
	}
	prefix := q.Prefix()
	wc, err := wechat.New(cfg.WeChat, log, q, blobs, wechat.WithTokenStore(wechat.NewRedisTokens(rdb, prefix)),
		wechat.WithMediaOutbox(q.Outbox("wechat-media")), wechat.WithFollows(wechat.NewRedisFollows(rdb, prefix)))
	if err != nil {
		return nil, err
	}
	sg, err := sms.New(cfg.SMS, log, q, sms.WithOutbox(q.Outbox("sms-notices")), sms.WithSharedReceipts(rdb, prefix))
	if err != nil {
		return nil, err
	}
	mail, err := email.New(email.Params{Options: cfg.SMTP, Queue: q, Blobs: blobs, Logger: log.Named("email"),
		Lookup:  func(addr string) (channels.Mailbox, bool) { return mailboxOf(dir.MailboxByEmail(addr)) },
		Threads: email.NewRedisThreads(rdb, prefix, 365*24*time.Hour), Outbox: q.Outbox("mail-acks")})
	if err != nil {
		return nil, err
	}
	repliers := map[queue.Channel]agentdesk.Replier{queue.ChannelWeChat: wc, queue.ChannelSMS: sg,
		queue.ChannelMailbox: letterReplier{mail: mail, sms: sg}, queue.ChannelWeb: letterReplier{mail: mail, sms: sg}}
	// The emergency lines: pushes of transferred contacts, and 110's referrals.
	pushes := linkage.NewPusher(q, cfg.SIP.Transfer.Targets, log.Named("linkage"))
	referQueue := cfg.SIP.Transfer.Queue
	if referQueue == "" {
		referQueue = defs[0].Name
	}
	referrals := linkage.NewInbound(q, linkage.InboundOptions{Secret: cfg.SIP.Transfer.Targets["110"].Secret,
		Window: cfg.SIP.Transfer.Window, Queue: referQueue}, log.Named("linkage"))
	asker := ratingAsker{q: q, repliers: repliers, cfg: cfg.Rating, log: log.Named("rating"), unable: &unableLog{}}
	hot := hottopic.New(rdb, prefix, cfg.SIP.HotTopics.TTS)
	voice, err := sip.New(sip.Params{Config: cfg.SIP, Queue: q, Lines: func(number string) (sip.Line, bool) {
		h, ok := dir.Hotline(number)
		return sip.Line{Number: h.Number, Name: h.Name, Topic: h.Topic, Queue: h.Queue, Priority: h.Priority}, ok
	}, Phones: cfg.Phones(), Prompts: cfg.PromptFS(), Redis: rdb, Prefix: prefix, Logger: log.Named("sip"),
		Pushes: pushes, SMS: sg, HotTopics: hot, Blobs: blobs})
	if err != nil {
		return nil, err
	}
	titles := make([]agentdesk.QueueTitle, len(cfg.Queues))
	for i, d := range cfg.Queues {
		titles[i] = agentdesk.QueueTitle{Name: d.Name, Title: d.Title}
	}
	desk := agentdesk.New(agentdesk.Params{Queue: q, Redis: rdb, Prefix: prefix, Agents: agents, QueueTitles: titles,
		Blobs: blobs, Repliers: repliers, AfterWrapUp: asker.ask, HotTopics: hot, Groups: groupsOf(rdb, prefix), TokenTTL: cfg.Auth.TokenTTL, RenewWarning: cfg.Auth.RenewWarning, LoginHashesPerSecond: cfg.Auth.LoginHashesPerSecond,
		Softphone: voice, Logger: log.Named("desk"), Transfers: agentdesk.Transfers{Boost: cfg.SIP.Transfer.Boost,
			BackToAgent: cfg.SIP.Transfer.MissReturn != "queue", Lines: pushes}})
	letters := mailbox.NewHandler(func(id string) (channels.Mailbox, bool) { return mailboxOf(dir.Mailbox(id)) }, q, blobs, mailbox.Limits{MaxAttachments: cfg.Mailbox.MaxAttachments, MaxAttachmentBytes: cfg.Mailbox.MaxAttachmentBytes,
		MaxLetterBytes: cfg.Mailbox.MaxLetterBytes, MaxTextRunes: cfg.Mailbox.MaxTextRunes, MaxUploads: cfg.Mailbox.MaxUploads}, log.Named("mailbox"))

	common := clusters.NewService(clusters.ServiceParams{Queue: q, Redis: rdb, Prefix: prefix, Node: cfg.NodeID,
		District: func(c *queue.Contact) string { return districtOf(dir, c) }, Logger: log.Named("clusters")})

	n := &node{q: q, rdb: rdb, desk: desk, voice: voice, mail: mail, log: log, store: qo.Archive, stopBG: bgCancel}
	n.runners = append(n.runners, wc, sg, mail, common, pushes)
	reports := &archive.Reports{Supervisor: desk.Supervisor, Targets: cfg.Reports.ResponseTargets,
		Logger: log.Named("reports")}
	if s, ok := qo.Archive.(*archive.Store); ok {
		reports.Store = s
		archiver := archive.NewArchiver(q, s, archive.Options{Retention: cfg.Database.Retention,
			KeepEvents: cfg.Database.KeepEvents, Batch: int64(cfg.Database.Batch), Places: placesOf(dir),
			LagAlert: cfg.Database.LagAlert, Alert: lagAlert(q, rdb, prefix, cfg.Database.LagAlert),
			Logger: log.Named("archive")})
		n.runners = append(n.runners, archiver)
		n.archiver = archiver
	}
	reg := prometheus.NewRegistry()
	// prometheus' own collectors rather than the collectors package, which
	// would link database/sql into the binary (and its compile time) for
	// nothing.
	//lint:ignore SA1019 same collectors, without database/sql
	goColl := prometheus.NewGoCollector()
	//lint:ignore SA1019 same collectors, without database/sql
	procColl := prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{})
	reg.MustRegister(goColl, procColl, newQueueCollector(q, desk))
	reg.MustRegister(q.Collectors()...)
	reg.MustRegister(newSchedCollector(), newPoolCollector(rdb))
	reg.MustRegister(voice.Collectors()...)
	if n.archiver != nil {
		reg.MustRegister(newArchiveCollector(n.archiver))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		agentdesk.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "node": cfg.NodeID})
	})
	mux.HandleFunc("GET /readyz", n.readyz)
	mmux := http.NewServeMux()
	mmux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	n.metrics = &http.Server{Handler: mmux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		ErrorLog: zap.NewStdLog(log.Named("metrics"))}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/desk/", http.StatusFound) })
	desk.Register(mux)
	mux.Handle("GET /api/clusters", desk.SupervisorOnly(common.Handler()))
	reports.Register(mux)
	letters.Register(mux)
	wc.Register(mux)
	sg.Register(mux)
	trusted, err := connlimit.ParsePrefixes(cfg.HTTP.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("http.trusted_proxies: %w", err)
	}
	referrals.Register(mux)
	rating.NewHandler(q, log.Named("rating")).Register(mux)
	// ReadTimeout bounds a whole request body (a 32 MiB letter on a slow
	// line included); websockets clear it when they upgrade. A connection
	// serving a request or a websocket is busy; the others may be closed
	// to make room (connlimit).
	n.srv = &http.Server{Handler: withMetrics(reg, recoverPanics(log, connlimit.RealIP(trusted, mux))),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 2 * time.Minute, IdleTimeout: 60 * time.Second,
		ErrorLog: zap.NewStdLog(log.Named("http")),
		ConnState: func(c net.Conn, st http.ConnState) {
			connlimit.ConnState(c, st == http.StateActive || st == http.StateHijacked)
		}}
	n.trusted = trusted
	built = true
	return n, nil
}

// listen opens the HTTP listener within its connection limits.
func (n *node) listen(c configs.HTTP) (*connlimit.Listener, error) {
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	return n.limit(ln, c), nil
}

// limit wraps the HTTP listener ln in its connection limits.
func (n *node) limit(ln net.Listener, c configs.HTTP) *connlimit.Listener {
	n.httpLn = connlimit.New(ln, connlimit.Limits{Max: c.MaxConnections, PerSource: c.MaxConnectionsPerSource,
		Trusted: n.trusted, Refuse: connlimit.HTTPRefuse})
	return n.httpLn
}

func (n *node) readyz(w http.ResponseWriter, r *http.Request) {
	if n.draining.Load() {
		agentdesk.WriteError(w, http.StatusServiceUnavailable, "draining", "this node is shutting down")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := n.q.Ping(ctx); err != nil {
		agentdesk.WriteError(w, http.StatusServiceUnavailable, "redis_unavailable", "Redis does not answer: "+err.Error())
		return
	}
	agentdesk.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// run serves until ctx ends, then drains within timeout. Shutdown order:
// not ready → desks told to reconnect elsewhere and this node's offers
// returned → HTTP server stops taking requests and finishes those in flight →
// queue heartbeat and event delivery stop.
func (n *node) run(ctx context.Context, ln net.Listener, timeout time.Duration) error {
	bg, cancelBG := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBG()
	g, gctx := errgroup.WithContext(bg)
	g.Go(func() error { return n.q.Run(gctx) })
	g.Go(func() error { return n.desk.Run(gctx) })
	g.Go(func() error { return n.voice.Run(gctx) })
	for _, r := range n.runners {
		g.Go(func() error { return r.Run(gctx) })
	}
	g.Go(func() error {
		if err := n.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	if n.metricsLn != nil {
		g.Go(func() error {
			if err := n.metrics.Serve(n.metricsLn); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("metrics: %w", err)
			}
			return nil
		})
	}
	select {
	case <-ctx.Done():
	case <-gctx.Done():
	}
	n.draining.Store(true)
	n.log.Info("draining", zap.Duration("timeout", timeout))
	dctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := n.desk.Drain(dctx); err != nil {
		n.log.Warn("desks did not all leave in time", zap.Error(err))
	}
	// New calls get 503 (a front proxy tries another node); calls in
	// progress go on until they end or the drain timeout passes.
	if err := n.voice.Drain(dctx); err != nil {
		n.log.Warn("calls still up at the drain timeout; hanging up", zap.Error(err))
	}
	if err := n.srv.Shutdown(dctx); err != nil {
		n.log.Warn("http shutdown", zap.Error(err))
		_ = n.srv.Close()
	}
	if n.metricsLn != nil {
		_ = n.metrics.Close()
	}
	cancelBG()
	err := g.Wait()
	if n.stopBG != nil {
		n.stopBG()
	}
	if s, ok := n.store.(*archive.Store); ok {
		s.Close()
	}
	n.log.Info("stopped")
	return err
}

// signalContext ends ctx on the first SIGINT or SIGTERM; a second one ends
// the process at once.
func signalContext(ctx context.Context, log *zap.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			log.Info("signal: draining; send again to stop at once", zap.String("signal", s.String()))
			cancel()
		case <-ctx.Done():
			return
		}
		s := <-ch
		log.Warn("second signal: stopping now", zap.String("signal", s.String()))
		os.Exit(1)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// openRedis connects to the primary the sentinels name, or to c.URL, or, when
// neither is set, starts the embedded store.
func openRedis(c configs.Redis, log *zap.Logger) (redis.UniversalClient, func(), error) {
	redis.SetLogger(redisLog{log.Named("redis").Sugar()})
	if len(c.Sentinels) > 0 {
		log.Info("redis through sentinel", zap.Strings("sentinels", c.Sentinels), zap.String("master", c.MasterName),
			zap.Int("pool_size", c.PoolSize), zap.Int("wait_replicas", c.WaitReplicas))
		return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: c.MasterName, SentinelAddrs: c.Sentinels,
			Password: c.Password, SentinelPassword: c.SentinelPassword, PoolSize: c.PoolSize}), func() {}, nil
	}
	if url := c.URL; url != "" {
		opt, err := redis.ParseURL(url)
		if err != nil {
			return nil, nil, fmt.Errorf("redis.url: %w", err)
		}
		if opt.Password == "" {
			opt.Password = c.Password
		}
		if opt.PoolSize == 0 {
			opt.PoolSize = c.PoolSize
		}
		log.Info("redis", zap.String("addr", opt.Addr), zap.Int("pool_size", opt.PoolSize),
			zap.Int("wait_replicas", c.WaitReplicas))
		return redis.NewClient(opt), func() {}, nil
	}
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, nil, fmt.Errorf("embedded store: %w", err)
	}
	log.Warn("EMBEDDED STORE: no redis.url (LIANXIN_REDIS_URL) is set, so contacts live in this process only; "+
		"NOTHING SURVIVES A RESTART and no other node can share the queue. Set LIANXIN_REDIS_URL for real use.",
		zap.String("addr", m.Addr()))
	return redis.NewClient(&redis.Options{Addr: m.Addr()}), m.Close, nil
}

// newLogger returns the JSON production logger, or with "console" a
// readable one for people; both print stack traces for errors only, not
// for every warning.
func newLogger(mode string, opts ...zap.Option) (*zap.Logger, error) {
	if mode == "console" {
		return zap.NewDevelopment(append([]zap.Option{zap.AddStacktrace(zap.ErrorLevel)}, opts...)...)
	}
	return zap.NewProduction(opts...)
}

// deskURL is where people open the desk on a listener's address: a
// wildcard address is shown as localhost.
func deskURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/desk/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/desk/"
}

// redisLog sends go-redis's own messages (pool dial failures, …) to zap at
// debug level: the queue logs what failing Redis calls mean for the node.
type redisLog struct{ log *zap.SugaredLogger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) { l.log.Debugf(format, v...) }

// serveDebug serves Go's profiler on addr (LIANXIN_DEBUG_ADDR, e.g.
// 127.0.0.1:6060), for an engineer chasing a slow node. Keep it on loopback.
func serveDebug(addr string, log *zap.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("debug listener", zap.String("addr", addr))
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Warn("debug listener", zap.Error(err))
	}
}

// demoHashes remembers, per password hash, whether it is a hash of "demo".
// bcrypt is slow on purpose (seconds a hash under the race detector), and a
// process that starts many nodes, the tests, would check the same hashes
// at each start.
var demoHashes sync.Map // hash → bool

func isDemoHash(hash string) bool {
	if demo, ok := demoHashes.Load(hash); ok {
		return demo.(bool)
	}
	demo := bcrypt.CompareHashAndPassword([]byte(hash), []byte("demo")) == nil
	demoHashes.Store(hash, demo)
	return demo
}

// The parts fit the interfaces their users declare.
var (
	_ mailbox.Enqueuer = (*queue.Queue)(nil)
	_ mailbox.Blobs    = blobstore.Store(nil)
	_ agentdesk.Blobs  = blobstore.Store(nil)
	_ wechat.Blobs     = blobstore.Store(nil)
	_ email.Blobs      = blobstore.Store(nil)
	_ sip.Blobs        = blobstore.Store(nil)
)

// openBlobs opens the attachment store the config names: a local folder, or
// an S3 bucket (with its spool in the folder's tmp).
func openBlobs(c configs.Blobs, log *zap.Logger) (blobstore.Store, error) {
	if c.Backend != "s3" {
		log.Info("attachments in a local folder (blobs.backend dir): other nodes do not see them", zap.String("dir", c.Dir))
		return blobstore.NewDir(c.Dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := blobstore.NewS3(ctx, blobstore.S3Options{Endpoint: c.Endpoint, Bucket: c.Bucket, Region: c.Region,
		Prefix: c.Prefix, AccessKey: c.AccessKey, SecretKey: c.SecretKey, CAFile: c.CAFile,
		Spool: filepath.Join(c.Dir, "tmp")})
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	log.Info("attachments in S3", zap.String("endpoint", c.Endpoint), zap.String("bucket", c.Bucket))
	return s, nil
}

// letterReplier answers a letter by e-mail when its writer gave an address,
// else by SMS to the phone number they gave.
type letterReplier struct {
	mail, sms agentdesk.Replier
}

func (l letterReplier) Reply(ctx context.Context, c *queue.Contact, text string) error {
	return l.by(c).Reply(ctx, c, text)
}

// CanReply asks the way the reply would take.
func (l letterReplier) CanReply(ctx context.Context, c *queue.Contact) error {
	if rc, ok := l.by(c).(agentdesk.ReplyChecker); ok {
		return rc.CanReply(ctx, c)
	}
	return nil
}

func (l letterReplier) by(c *queue.Contact) agentdesk.Replier {
	if c.Citizen.Email != "" {
		return l.mail
	}
	return l.sms
}

// districtOf is the district of a contact's line when the directory knows
// it: a district's leader mailbox. Other contacts' districts are read from
// their text and address by the grouping.
func districtOf(dir *configs.Directory, c *queue.Contact) string {
	if c.Channel != queue.ChannelMailbox && c.Channel != queue.ChannelWeb {
		return ""
	}
	m, ok := dir.Mailbox(c.Line)
	if !ok || m.District == configs.CityWide {
		return ""
	}
	if d := clusters.DistrictOf(m.District); d != "" {
		return d
	}
	return m.District
}

// mailboxOf is what the letter channels need of a directory mailbox.
func mailboxOf(m configs.Mailbox, ok bool) (channels.Mailbox, bool) {
	return channels.Mailbox{ID: m.ID, Name: m.Name, Queue: m.Queue}, ok
}

// placesOf gives a contact's mailbox level and district: a letter's from
// its mailbox; another contact's district when its location's address names
// one of the directory's districts.
func placesOf(dir *configs.Directory) func(c *queue.Contact) (string, string) {
	var districts []string
	seen := map[string]bool{}
	for _, m := range dir.Mailboxes {
		if m.District != configs.CityWide && !seen[m.District] {
			seen[m.District] = true
			districts = append(districts, m.District)
		}
	}
	return func(c *queue.Contact) (string, string) {
		if m, ok := dir.Mailbox(c.Line); ok {
			return m.Level, m.District
		}
		if c.Location != nil {
			for _, d := range districts {
				if strings.Contains(c.Location.Address, d) {
					return "", d
				}
			}
		}
		return "", ""
	}
}

// groupsOf finds a common problem among the groups last published, for a
// supervisor's hot-topic answer.
func groupsOf(rdb redis.UniversalClient, prefix string) func(context.Context, string) (agentdesk.Group, bool, error) {
	return func(ctx context.Context, id string) (agentdesk.Group, bool, error) {
		snap, err := clusters.Load(ctx, rdb, prefix)
		if errors.Is(err, clusters.ErrNoSnapshot) {
			return agentdesk.Group{}, false, nil
		}
		if err != nil {
			return agentdesk.Group{}, false, err
		}
		for _, c := range snap.Clusters {
			if c.ID == id {
				return agentdesk.Group{ID: c.ID, Label: c.Label, Lines: c.Lines}, true, nil
			}
		}
		return agentdesk.Group{}, false, nil
	}
}

// lagAlert raises the archive_lag alert on supervisors' desks, once across
// the nodes for every lag_alert (a Redis key): each node's archiver sees the
// same lag.
func lagAlert(q *queue.Queue, rdb redis.UniversalClient, prefix string, every time.Duration) func(context.Context, string) error {
	return func(ctx context.Context, text string) error {
		ok, err := rdb.SetNX(ctx, prefix+"archive:lag_alerted", text, every).Result()
		if err != nil || !ok {
			return err
		}
		return q.Alert(ctx, "", "archive_lag", text)
	}
}
