package sip

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/lianxin/lianxin/channels/linkage"
	"github.com/lianxin/lianxin/hottopic"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/rtc"
	"github.com/lianxin/lianxin/sip/sendfrom"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"golang.org/x/sync/errgroup"
)

// Line is what the front end needs of a dialled number: the hotline from
// the directory.
type Line struct {
	Number, Name, Topic, Queue string
	Priority                   int
}

// Params wire a Server. Config, Queue, Lines, Prompts and Redis are required.
type Params struct {
	Config Config
	Queue  *queue.Queue
	// Lines finds the hotline a caller dialled ("12345", "12315", …).
	Lines func(number string) (Line, bool)
	// Phones are the agents' SIP phone accounts.
	Phones []Phone
	// Prompts holds the prompts (<name>.wav): the embedded ones with
	// Config.Prompts laid over them (configs.Config.PromptFS).
	Prompts fs.FS
	// Redis keeps phone registrations, shared by every node, under Prefix.
	Redis  redis.UniversalClient
	Prefix string
	Logger *zap.Logger
	// Pushes sends a call transferred to an emergency line to the line's
	// webhook; nil pushes nothing.
	Pushes *linkage.Pusher
	// SMS tells a citizen whose callbacks all went unanswered; nil: no SMS.
	SMS interface {
		Reply(ctx context.Context, c *queue.Contact, text string) error
	}
	// HotTopics, if set, are the supervisors' hot-topic answers callers
	// hear after the welcome.
	HotTopics *hottopic.Store
	// Blobs, if set, store call recordings (Config.Recording).
	Blobs Blobs
}

// Server is the voice front end of one node.
type Server struct {
	// beforeBridge, set by a test before any call, runs on a call's loop
	// when the agent's phone has answered, before the two are bridged.
	beforeBridge func()
	// afterAnswer, set by a test before any call, runs on an agent leg
	// when the queue has recorded its phone's answer (the contact is the
	// agent's), before the leg is handed to the call's loop.
	afterAnswer func()
	// beforeRefer, set by a test, runs when a phone's REFER has been
	// accepted (202), before the transfer is done.
	beforeRefer atomic.Pointer[func()]
	// beforeCallEvent, set by a test, runs on the node's feed before each
	// event reaches its call.
	beforeCallEvent atomic.Pointer[func(queue.Event)]
	// beforeCommand, set by a test, runs before the node takes a command
	// of its command stream.
	beforeCommand atomic.Pointer[func(queue.Command)]
	// beforeTransferOut, set by a test, runs when the node has taken a
	// desk's transfer to a line, before the transfer begins.
	beforeTransferOut atomic.Pointer[func()]

	p       Params
	cfg     Config
	q       *queue.Queue
	log     *zap.Logger
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	cli     *sipgo.Client
	dialogs *sipgo.DialogUA
	ip      netip.Addr // advertised
	ports   *media.PortPool
	pacer   *media.Pacer
	prompts *prompts
	trusted []netip.Prefix
	reg     *registrar
	metrics *Metrics
	hot     *hotTopics

	udp     net.PacketConn
	fromUDP *sendfrom.Listener // sends UDP requests from udp
	tcp     net.Listener
	addr    netip.AddrPort

	mu      sync.Mutex
	byCall  map[string]*call // caller's Call-ID
	byTN    map[string]*call // tracking number, once queued
	byAgent map[string]*call // Call-ID of the leg to the agent's phone

	rtc          *rtc.Engine              // nil: no browser phones
	browsers     map[string]*browserPhone // by agent
	browserCalls map[string]*browserCall  // by Call-ID

	monitors  map[string]*monitorLeg // supervisors listening in, by supervisor (monitor.go)
	byMonitor map[string]*monitorLeg // by the Call-ID of the leg to the supervisor's phone
	// supervisors of this node listening in to a call of another node, by supervisor (monitor_remote.go)
	remoteMonitors map[string]*remoteMonitor

	draining atomic.Bool
	// stopping is closed when Run's context ends: calls' bookkeeping then
	// tries Redis once, and leaves the rest to the next start
	// (RecoverCalls) or, if the node never comes back, to the sweep.
	stopping chan struct{}
	wg       sync.WaitGroup // calls in progress
	ringers  sync.WaitGroup // outgoing INVITEs ringing (goRing)
}

// New makes a Server; Run listens.
func New(p Params) (*Server, error) {
	cfg := p.Config
	if p.Logger == nil {
		p.Logger = zap.NewNop()
	}
	if p.Queue == nil || p.Lines == nil || p.Redis == nil {
		return nil, errors.New("sip: Queue, Lines and Redis are required")
	}
	setDefaults(&cfg)
	s := &Server{p: p, cfg: cfg, q: p.Queue, log: p.Logger, byCall: map[string]*call{}, byTN: map[string]*call{},
		byAgent: map[string]*call{}, metrics: newMetrics(), browsers: map[string]*browserPhone{},
		browserCalls: map[string]*browserCall{}, monitors: map[string]*monitorLeg{}, byMonitor: map[string]*monitorLeg{},
		stopping: make(chan struct{})}
	for _, c := range cfg.Trusted {
		pf, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("sip.trusted: %q: %w", c, err)
		}
		s.trusted = append(s.trusted, pf.Masked())
	}
	var err error
	if s.prompts, err = loadPrompts(p.Prompts, cfg.Hold); err != nil {
		return nil, err
	}
	if !cfg.WebRTC.Disabled {
		codec := media.PCMU
		switch strings.ToLower(cfg.WebRTC.Codec) {
		case "", "pcmu":
		case "pcma":
			codec = media.PCMA
		default:
			return nil, fmt.Errorf("sip.webrtc.codec: %q is not pcmu or pcma", cfg.WebRTC.Codec)
		}
		if s.rtc, err = rtc.NewEngine(rtc.Config{Codec: codec, Loopback: cfg.WebRTC.Loopback,
			PublicIPs: cfg.WebRTC.PublicIPs, PortMin: uint16(cfg.WebRTC.Ports.Min), PortMax: uint16(cfg.WebRTC.Ports.Max),
			Logger: p.Logger.Named("webrtc")}); err != nil {
			return nil, fmt.Errorf("sip.webrtc: %w", err)
		}
	}
	s.reg = newRegistrar(p.Redis, p.Prefix, cfg, p.Phones, p.Queue, p.Logger.Named("registrar"))
	if p.HotTopics != nil {
		s.hot = &hotTopics{store: p.HotTopics, log: p.Logger.Named("hot"), every: cfg.HotTopics.Refresh}
	}
	return s, nil
}

func setDefaults(c *Config) {
	if c.Addr == "" {
		c.Addr = ":5060"
	}
	if c.RTPPorts.Min == 0 {
		c.RTPPorts = PortRange{Min: 20000, Max: 29999}
	}
	if len(c.Trusted) == 0 {
		c.Trusted = []string{"127.0.0.0/8", "::1/128"}
	}
	if c.TCP.MaxConnections == 0 {
		c.TCP.MaxConnections = 4096
	}
	if c.TCP.MaxConnectionsPerSource == 0 {
		c.TCP.MaxConnectionsPerSource = 256
	}
	if c.MaxCalls == 0 {
		c.MaxCalls = 2000
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = 30 * time.Second
	}
	if c.Ring == 0 {
		c.Ring = time.Second
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = 20 * time.Second
	}
	if c.MediaTimeout == 0 {
		c.MediaTimeout = 15 * time.Second
	}
	if c.Realm == "" {
		c.Realm = "lianxin"
	}
	if c.Register.MinExpires == 0 {
		c.Register.MinExpires = 60 * time.Second
	}
	if c.Register.MaxExpires == 0 {
		c.Register.MaxExpires = time.Hour
	}
	if c.Hold == "" {
		c.Hold = "hold"
	}
	if c.BrowserReconnect == 0 {
		c.BrowserReconnect = 10 * time.Second
	}
	if c.BrowserMediaGrace == 0 {
		c.BrowserMediaGrace = 5 * time.Second
	}
	if c.Announce.First == 0 {
		c.Announce.First = 15 * time.Second
	}
	if c.Announce.Every == 0 {
		c.Announce.Every = 30 * time.Second
	}
	if c.Announce.MaxPosition == 0 {
		c.Announce.MaxPosition = 99
	}
	setTransferDefaults(c)
	setCallbackDefaults(c)
	setIVRDefaults(c)
}

// Listen binds the UDP and TCP listeners on one port (Config.Addr; port 0
// picks a free one) without serving yet. Addr tells where.
func (s *Server) Listen() error {
	host, port, err := net.SplitHostPort(s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("sip.addr: %w", err)
	}
	for try := 0; try < 10; try++ {
		udp, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
		if err != nil {
			return fmt.Errorf("sip: listen udp %s: %w", s.cfg.Addr, err)
		}
		ua := udp.LocalAddr().(*net.UDPAddr)
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(ua.Port)))
		if err != nil {
			_ = udp.Close()
			if port == "0" {
				continue // someone holds that TCP port: another free one
			}
			return fmt.Errorf("sip: listen tcp %s: %w", s.cfg.Addr, err)
		}
		s.udp, s.tcp = udp, newTCPLimiter(tcp, s.cfg.TCP, s.trusted)
		ip := s.advertise(ua.IP)
		s.ip = ip
		s.addr = netip.AddrPortFrom(ip, uint16(ua.Port))
		return s.setup()
	}
	return fmt.Errorf("sip: no free port for UDP and TCP together")
}

// advertise picks the address put in SDP and Contact headers.
func (s *Server) advertise(bound net.IP) netip.Addr {
	if a, err := netip.ParseAddr(s.cfg.AdvertiseIP); err == nil {
		return a
	}
	if a, ok := netip.AddrFromSlice(bound); ok && !a.Unmap().IsUnspecified() {
		return a.Unmap()
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			ip, _ := netip.AddrFromSlice(n.IP.To4())
			return ip
		}
	}
	return netip.MustParseAddr("127.0.0.1")
}

// Addr is where the server listens, with the advertised IP.
func (s *Server) Addr() netip.AddrPort { return s.addr }

func (s *Server) setup() error {
	// sipgo's own messages (a packet that is not SIP, a transaction that
	// timed out) at warning level and above; a flood of garbage is logged by
	// sipgo once per packet, so its debug chatter stays out.
	core := s.log.Named("sipgo").WithOptions(zap.IncreaseLevel(zap.WarnLevel)).Core()
	slogger := slog.New(zapslog.NewHandler(core))
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("Lianxin"), sipgo.WithUserAgentHostname(s.ip.String()),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(slogger)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(slogger)))
	if err != nil {
		return err
	}
	s.ua = ua
	if s.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(slogger)); err != nil {
		return err
	}
	if s.cli, err = sipgo.NewClient(ua, sipgo.WithClientLogger(slogger), sipgo.WithClientHostname(s.ip.String()),
		sipgo.WithClientPort(int(s.addr.Port()))); err != nil {
		return err
	}
	s.fromUDP = sendfrom.New(ua, s.udp)
	s.cli.TxRequester = s.fromUDP
	s.dialogs = &sipgo.DialogUA{Client: s.cli, ContactHDR: sip.ContactHeader{
		Address: sip.Uri{User: "lianxin", Host: s.ip.String(), Port: int(s.addr.Port())}}}
	if s.ports, err = media.NewPortPool(s.ip, s.cfg.RTPPorts.Min, s.cfg.RTPPorts.Max); err != nil {
		return err
	}
	s.pacer = media.NewPacer(0, s.log.Named("pacer"))
	s.srv.OnInvite(s.guard(s.onInvite))
	s.srv.OnAck(s.guard(s.onAck))
	s.srv.OnBye(s.guard(s.onBye))
	s.srv.OnCancel(s.guard(func(req *sip.Request, tx sip.ServerTransaction) {
		// The transaction layer answers a CANCEL that matches an INVITE;
		// one that reaches us matches nothing.
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	}))
	s.srv.OnOptions(s.guard(s.onOptions))
	s.srv.OnUpdate(s.guard(s.onUpdate))
	s.srv.OnInfo(s.guard(s.onInfo))
	s.srv.OnRefer(s.guard(s.onRefer))
	s.srv.OnRegister(s.guard(s.reg.onRegister))
	return nil
}

// guard recovers a panic in a handler: the request gets 500 and the node
// goes on.
func (s *Server) guard(h func(*sip.Request, sip.ServerTransaction)) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in SIP handler", zap.Any("panic", r), zap.String("method", req.Method.String()),
					zap.Stack("stack"))
				_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
			}
		}()
		h(req, tx)
	}
}

// Run serves SIP, paces media and follows the queue until ctx ends; then
// it ends every call still up (BYE) and returns. Call Drain first for a
// graceful stop.
func (s *Server) Run(ctx context.Context) error {
	if s.udp == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.log.Info("sip listening", zap.Stringer("addr", s.addr), zap.Strings("trusted", s.cfg.Trusted),
		zap.Int("rtp_min", s.cfg.RTPPorts.Min), zap.Int("rtp_max", s.cfg.RTPPorts.Max))
	// Calls this node held before a restart (under the same node id, too
	// soon to be found dead) lost their audio with the old process: their
	// callers become callbacks at their old place, as a dead node's do.
	for try := 0; ctx.Err() == nil; try++ {
		n, err := s.q.RecoverCalls(ctx)
		if err == nil {
			if n > 0 {
				s.log.Warn("calls of this node's previous run turned into callbacks", zap.Int("calls", n))
			}
			break
		}
		s.log.Warn("recovering this node's previous calls failed; retrying", zap.Error(err))
		select {
		case <-ctx.Done():
		case <-time.After(min(time.Duration(try+1)*500*time.Millisecond, 5*time.Second)):
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.pacer.Run(gctx) })
	g.Go(func() error { return s.follow(gctx) })
	g.Go(func() error { return s.commands(gctx) })
	g.Go(func() error { return s.serveCallbackRetries(gctx) })
	if s.hot != nil {
		g.Go(func() error { return s.hot.run(gctx) })
	}
	g.Go(func() error { return s.recordingJanitor(gctx) })
	g.Go(func() error { return s.reconcileCalls(gctx, reconcileEvery) })
	var serving sync.WaitGroup
	serving.Go(func() { _ = s.fromUDP.Serve(s.srv) })
	serving.Go(func() { _ = s.srv.ServeTCP(s.tcp) })
	<-gctx.Done()
	s.mu.Lock() // goRing adds a ringer only before this
	close(s.stopping)
	s.mu.Unlock()
	s.hangupAll("shutdown")
	s.closePhones()
	s.wg.Wait()
	s.waitRingers()
	_ = s.srv.Close()
	s.fromUDP.Close() // and the UDP listener
	_ = s.tcp.Close()
	_ = s.ua.Close()
	serving.Wait() // the listeners' readers have ended when Run returns
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Drain refuses new calls (503) and waits until the calls in progress end
// or ctx ends.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if s.Calls() == 0 && s.browserCallCount() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sip: %d calls still up: %w", s.Calls(), ctx.Err())
		case <-t.C:
		}
	}
}

// Calls counts the calls this node holds.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byCall)
}

// liveCalls lists the calls this node holds now.
func (s *Server) liveCalls() []*call {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := make([]*call, 0, len(s.byCall))
	for _, c := range s.byCall {
		calls = append(calls, c)
	}
	return calls
}

func (s *Server) hangupAll(reason string) {
	for _, c := range s.liveCalls() {
		c.stop(reason)
	}
}

func (s *Server) isTrusted(src string) bool {
	ap, err := netip.ParseAddrPort(src)
	if err != nil {
		host, _, err2 := net.SplitHostPort(src)
		if err2 != nil {
			return false
		}
		a, err3 := netip.ParseAddr(host)
		if err3 != nil {
			return false
		}
		ap = netip.AddrPortFrom(a, 0)
	}
	ip := ap.Addr().Unmap()
	for _, p := range s.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, REGISTER, REFER"))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp, application/dtmf-relay, application/dtmf"))
	if s.draining.Load() || s.Calls() >= s.cfg.MaxCalls {
		// A proxy's keep-alive learns that this node takes no calls now.
		res = sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter.Seconds()))))
	}
	_ = tx.Respond(res)
}

// onUpdate answers session-timer refreshes (and UPDATEs with SDP) inside a
// call; outside one it is 481.
func (s *Server) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	if a := c.agentSide(req); a != nil {
		c.agentUpdate(a, req, tx)
		return
	}
	c.update(req, tx)
}

func (s *Server) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	d, err := media.ParseInfoDTMF(ct, req.Body())
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 415, "Unsupported Media Type", nil))
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	c.digit(d)
}

func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if bc := s.browserRequest(req); bc != nil {
		if bc.dlg != nil {
			_ = bc.dlg.ReadAck(req, tx)
		}
		return
	}
	if c := s.lookup(req); c != nil && c.dlg != nil {
		_ = c.dlg.ReadAck(req, tx)
	}
}

func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if bc := s.browserRequest(req); bc != nil {
		s.browserBye(bc, req, tx)
		return
	}
	if s.monitorBye(req, tx) {
		return
	}
	id := callID(req)
	s.mu.Lock()
	c, agentSide := s.byAgent[id], true
	if c == nil {
		c, agentSide = s.byCall[id], false
	}
	s.mu.Unlock()
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	if agentSide {
		c.agentBye(id, req, tx)
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	c.callerHungUp()
}

// lookup finds the call a request inside a dialog belongs to, on either leg.
func (s *Server) lookup(req *sip.Request) *call {
	id := callID(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.byCall[id]; c != nil {
		return c
	}
	return s.byAgent[id]
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

func respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}
