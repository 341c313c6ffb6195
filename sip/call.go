package sip

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"go.uber.org/zap"
)

// Why a call ended, as told to the queue (queue.Hangup's "by").
const (
	byCaller       = "caller"
	byAgent        = "agent"
	byMediaTimeout = "media_timeout"
	byShutdown     = "shutdown"
)

// call is one caller on this node, from INVITE to hang-up. Its run method
// is the call's goroutine; other goroutines reach it through its channels.
type call struct {
	s      *Server
	id     string // the caller's Call-ID
	line   Line
	caller string // E.164, "" when withheld
	log    *zap.Logger

	ctx    context.Context
	cancel context.CancelCauseFunc

	dlg   *sipgo.DialogServerSession
	leg   *media.Leg
	local localSDP
	// answeredAt is when the call was answered: its contact's received
	// time, and its place in the queue (set before the call goroutine's
	// first contact write, read only by that goroutine).
	answeredAt time.Time
	// accounted is set once the caller leg's counts went to the metrics.
	accounted atomic.Bool

	digits    chan rune
	events    chan queue.Event
	agentGone chan string // Call-ID of an agent leg that hung up
	answered  chan *agentLeg

	mu    sync.Mutex
	tn    string
	state string
	ring  *agentLeg // the agent leg ringing or talking

	xfer xfer // a transfer to an emergency line (transfer.go)
}

// Call states, as metrics count them.
const (
	stRinging = "ringing" // the caller hears ringing, before we answer
	stIVR     = "ivr"     // welcome and menu
	stWaiting = "waiting" // in the queue, on hold
	stOffered = "offered" // an agent's phone rings
	stTalking = "talking" // bridged to an agent
	stEnding  = "ending"
)

func newCall(s *Server, id string, line Line, caller string) *call {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &call{s: s, id: id, line: line, caller: caller, ctx: ctx, cancel: cancel, state: stRinging,
		log:    s.log.With(zap.String("call", id), zap.String("line", line.Number), maskCaller(caller)),
		digits: make(chan rune, 16), events: make(chan queue.Event, 16), agentGone: make(chan string, 2),
		answered: make(chan *agentLeg, 1)}
}

func (c *call) trackingNo() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tn
}

func (c *call) setState(st string) {
	c.mu.Lock()
	c.state = st
	c.mu.Unlock()
}

func (c *call) State() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// stop ends the call from outside (shutdown, the caller's BYE).
func (c *call) stop(why string) { c.cancel(errors.New(why)) }

func (c *call) callerHungUp() { c.cancel(errors.New(byCaller)) }

func (c *call) agentHungUp(callID string) {
	select {
	case c.agentGone <- callID:
	default:
	}
}

// digit takes a key press from the caller (RFC 4733 or SIP INFO).
func (c *call) digit(d rune) {
	select {
	case c.digits <- d:
	default: // a caller drumming on the keypad; the menu has what it needs
	}
}

// event takes a queue event about this call's contact.
func (c *call) event(ev queue.Event) {
	if f := c.s.beforeCallEvent.Load(); f != nil {
		(*f)(ev)
	}
	select {
	case c.events <- ev:
	default:
		c.log.Warn("call event dropped", zap.String("type", string(ev.Type)))
	}
}

// run is the call's life: answer, greet, menu, queue, hold, ring the agent,
// talk, hang up. It returns when the call is over.
func (c *call) run(req *sip.Request, tx sip.ServerTransaction, offer session) {
	s := c.s
	dlg, err := s.dialogs.ReadInvite(req, tx)
	if err != nil {
		c.log.Info("bad INVITE", zap.Error(err))
		respond(tx, req, 400, "Bad Request")
		return
	}
	c.dlg = dlg
	defer dlg.Close()
	conn, err := s.ports.Listen()
	if err != nil {
		c.log.Error("no RTP port", zap.Error(err))
		_ = dlg.Respond(503, "Service Unavailable", nil, sip.NewHeader("Retry-After", s.retryAfter()))
		return
	}
	c.leg = media.NewLeg(media.LegConfig{Conn: conn, Remote: offer.remote, Codec: offer.codecs[0],
		EventPT: offer.eventPT, MediaTimeout: s.cfg.MediaTimeout, OnDigit: c.digit, Logger: c.log})
	defer c.leg.Close()
	c.local = localSDP{id: rand.Uint64N(1 << 62), version: 1, ip: s.ip, port: int(c.leg.LocalAddr().Port()),
		codecs: []media.Codec{offer.codecs[0]}, eventPT: offer.eventPT, dir: answerDir(offer.dir)}

	_ = dlg.Respond(180, "Ringing", nil)
	if s.cfg.Ring > 0 {
		select {
		case <-dlg.Context().Done(): // CANCEL: the caller gave up while it rang
			s.metrics.ended.WithLabelValues("cancelled").Inc()
			c.log.Info("caller cancelled while ringing")
			return
		case <-c.ctx.Done():
			_ = dlg.Respond(503, "Service Unavailable", nil, sip.NewHeader("Retry-After", s.retryAfter()))
			return
		case <-time.After(s.cfg.Ring):
		}
	}
	// The contact first, then the 200 OK: a node that dies at any moment
	// after the answer leaves the caller a callback contact, never nothing.
	c.answeredAt = time.Now()
	c.admit()
	if err := dlg.RespondSDP(c.local.marshal()); err != nil {
		if dlg.Context().Err() != nil {
			s.metrics.ended.WithLabelValues("cancelled").Inc()
		}
		c.log.Info("call not set up", zap.Error(err))
		c.release()
		return
	}
	s.metrics.answered.Inc()
	s.pacer.Add(c.leg)
	defer s.pacer.Remove(c.leg)
	if r := c.startRecording(); r != nil {
		defer c.finishRecording(r)
	}
	go func() {
		err := c.leg.Run(c.ctx)
		if errors.Is(err, media.ErrMediaTimeout) {
			s.metrics.mediaTimeouts.Inc()
			c.cancel(errors.New(byMediaTimeout))
		}
	}()
	// The caller's dialog ending (their BYE) ends the call.
	go func() {
		select {
		case <-dlg.Context().Done():
			c.callerHungUp()
		case <-c.ctx.Done():
		}
	}()

	by := c.converse()
	c.finish(by)
}

// converse runs the call from answer to hang-up and says who ended it.
func (c *call) converse() string {
	c.setState(stIVR)
	q, ok := c.ivr()
	if !ok {
		return c.why()
	}
	if !c.enqueue(q) {
		return c.why()
	}
	return c.wait()
}

// why names who ended the call, from the cause of its context.
func (c *call) why() string {
	if err := context.Cause(c.ctx); err != nil {
		switch err.Error() {
		case byCaller, byMediaTimeout, byShutdown, byAgent, byIVR:
			return err.Error()
		}
		return byShutdown
	}
	return byCaller
}

// play plays clips and waits for them to end, for the caller to hang up, or
// (when digits is true) for a key, which it returns (0 if none).
func (c *call) play(digits bool, clips ...*media.Clip) (rune, bool) {
	clips = nonNil(clips)
	if len(clips) == 0 {
		return 0, c.ctx.Err() == nil
	}
	p := media.NewPlayer(clips...)
	c.leg.Play(p)
	defer p.Stop()
	var keys chan rune
	if digits {
		keys = c.digits
	}
	select {
	case <-p.Done():
		return 0, true
	case d := <-keys:
		return d, true
	case <-c.ctx.Done():
		return 0, false
	}
}

func nonNil(clips []*media.Clip) []*media.Clip {
	out := clips[:0:0]
	for _, cl := range clips {
		if cl != nil {
			out = append(out, cl)
		}
	}
	return out
}

// ivr greets the caller and runs the line's menu. It returns the queue the
// caller chose (or the line's), and false if the caller hung up.
func (c *call) ivr() (string, bool) {
	p := c.s.prompts
	menu, hasMenu := c.s.cfg.Menus[c.line.Number]
	if _, ok := c.play(hasMenu, p.get("welcome-"+c.line.Number)); !ok {
		return "", false
	}
	if !c.afterWelcome() {
		return "", false
	}
	if !hasMenu {
		return c.line.Queue, true
	}
	prompt := menu.Prompt
	if prompt == "" {
		prompt = "menu-" + c.line.Number
	}
	timeout := menu.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	misses := 0
	var pending rune // a key pressed during an answer or the invalid prompt
	for {
		d := pending
		pending = 0
		if d == 0 {
			var ok bool
			if d, ok = c.play(true, p.get(prompt)); !ok {
				return "", false
			}
		}
		if d == 0 {
			t := time.NewTimer(timeout)
			select {
			case d = <-c.digits:
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
				return "", false
			}
			t.Stop()
		}
		if d == 0 {
			misses++
			if misses > menu.Retries {
				return c.line.Queue, true
			}
			continue
		}
		if d == '*' {
			continue
		}
		opt, ok := menu.Options[string(d)]
		switch {
		case !ok:
			var played bool
			if pending, played = c.play(true, p.get("invalid")); !played {
				return "", false
			}
		case opt.Queue != "":
			c.log.Info("menu", zap.String("key", string(d)), zap.String("queue", opt.Queue))
			return opt.Queue, true
		case opt.Answer != "":
			// A recorded answer to a hot topic; a key cuts it short.
			var played bool
			if pending, played = c.play(true, p.get(opt.Answer)); !played {
				return "", false
			}
		}
	}
}

// intake is the call's contact as the queue takes it, in queue q.
func (c *call) intake(q, subject string) queue.Intake {
	in := queue.Intake{Channel: queue.ChannelVoice, Line: c.line.Number, LineName: c.line.Name,
		Citizen: queue.Citizen{Address: c.caller, Phone: c.caller}, Subject: subject, Queue: q,
		Priority: c.line.Priority, ReceivedAt: c.answeredAt}
	if c.caller == "" {
		in.Citizen.Address = "anonymous"
	}
	return in
}

// admit records the call as it is answered, before its welcome and menu
// (queue.AnswerCall): if this node dies before the caller is queued, the
// call becomes a callback contact. One try: a Redis away for a moment
// leaves the caller to enqueue's retries after the menu, as before.
func (c *call) admit() {
	s := c.s
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	r, err := s.q.AnswerCall(ctx, c.intake(c.line.Queue, "来电："+c.line.Name), queue.Call{ID: c.id, Node: s.q.NodeID()})
	cancel()
	if err != nil {
		c.log.Warn("call not recorded at its answer; it is queued after the menu", zap.Error(err))
		return
	}
	c.setContact(r.TrackingNo)
}

// setContact records the call's contact, and routes its events to the call.
func (c *call) setContact(tn string) {
	c.mu.Lock()
	same := c.tn == tn
	c.tn = tn
	c.mu.Unlock()
	if same {
		return
	}
	c.log = c.log.With(zap.String("contact", tn))
	c.s.mu.Lock()
	c.s.byTN[tn] = c
	c.s.mu.Unlock()
}

// release drops the contact of a call that was not set up after all,
// trying again while Redis does not answer (recordHangup).
func (c *call) release() {
	tn := c.trackingNo()
	if tn == "" {
		return
	}
	if _, err := c.recordHangup(tn, byCaller); err != nil {
		c.log.Error("contact of a call not set up not dropped", zap.Error(err))
	}
}

// enqueue puts the call in queue q as a contact held by this node (the
// contact admit made, when it did).
func (c *call) enqueue(q string) bool {
	s := c.s
	in := c.intake(q, "来电："+c.line.Name)
	// Redis may be away for a moment: the caller hears hold audio meanwhile.
	c.leg.Hold(s.prompts.hold)
	backoff := 200 * time.Millisecond
	for try := 0; ; try++ {
		ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
		r, err := s.q.EnqueueCall(ctx, in, queue.Call{ID: c.id, Node: s.q.NodeID()})
		cancel()
		if err == nil {
			c.setContact(r.TrackingNo)
			c.setState(stWaiting)
			c.log.Info("call queued", zap.String("queue", q))
			return true
		}
		if c.ctx.Err() != nil {
			return false
		}
		if errors.Is(err, queue.ErrInvalid) || try >= 20 {
			c.log.Error("call could not be queued", zap.Error(err))
			c.play(false, s.prompts.get("goodbye"))
			c.cancel(errors.New(byShutdown))
			return false
		}
		c.log.Warn("queueing the call failed; retrying", zap.Error(err))
		select {
		case <-c.ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// wait holds the caller in the queue, announces position and expected wait,
// rings agents as routing offers the call, and talks once one answers.
func (c *call) wait() string {
	s := c.s
	c.leg.Hold(s.prompts.hold)
	// The offer may have been made by the enqueue script itself, before
	// this node knew the tracking number: look once.
	if ct, err := s.q.Contact(c.ctx, c.tn); err == nil && ct.State == queue.StateOffered && ct.OfferedAt != nil {
		c.offered(ct.Agent, ct.OfferedAt.Add(s.cfg.RingTimeout))
	}
	announce := time.NewTimer(s.cfg.Announce.First)
	defer announce.Stop()
	cb := c.callbackOffer() // callback.go
	defer cb.stop()
	var player *media.Player
	var playerDone <-chan struct{}
	for {
		select {
		case <-c.ctx.Done():
			return c.why()
		case <-cb.C():
			if clips := cb.announce(c); len(clips) > 0 {
				if player != nil {
					player.Stop()
				}
				player = media.NewPlayer(clips...)
				playerDone = player.Done()
				c.leg.Play(player)
			}
		case d := <-c.digits:
			if cb.wants(c, d) {
				if player != nil {
					player.Stop()
					playerDone = nil
				}
				if c.takeCallback() {
					if c.ctx.Err() != nil {
						return c.why() // hung up after asking: the callback stands
					}
					return byCallback
				}
			}
		case <-announce.C:
			if c.State() != stWaiting {
				announce.Reset(s.cfg.Announce.Every)
				continue
			}
			clips := c.announcement()
			if len(clips) > 0 {
				player = media.NewPlayer(clips...)
				playerDone = player.Done()
				c.leg.Play(player)
			}
			announce.Reset(s.cfg.Announce.Every)
		case <-playerDone:
			playerDone = nil
			if c.State() == stWaiting || c.State() == stOffered {
				c.leg.Hold(s.prompts.hold)
			}
		case ev := <-c.events:
			switch ev.Type {
			case queue.EventOffered:
				c.offered(ev.Agent, ev.Deadline)
			case queue.EventRescinded:
				c.stopRinging(ev.Agent)
			case queue.EventEnded, queue.EventClosed:
				// The agent ended the call at the desk (not: the contact
				// closed as the caller went on to an emergency line).
				if c.State() == stTalking && !c.external() {
					return byAgent
				}
			case queue.EventTransferred:
				c.requeued()
			case queue.EventRequeued:
				c.backToQueue(ev.Agent)
			}
		case a := <-c.answered:
			if player != nil {
				player.Stop()
				playerDone = nil
			}
			if s.beforeBridge != nil {
				s.beforeBridge()
			}
			c.talk(a)
		case id := <-c.agentGone:
			c.mu.Lock()
			a := c.ring
			c.mu.Unlock()
			if a != nil && a.id == id && c.State() == stTalking && !a.referring.Load() && !c.leftToTransfer(a.agent) {
				return byAgent
			}
		}
	}
}

// leftToTransfer takes agent's phone hanging up in talk when a transfer the
// desk asked for has not reached this node yet, and says whether it did
// (false: the agent left the caller). A transfer to an emergency line,
// asked, taken or under way (lineAsked, xfer.asked), takes the caller on
// (transferOut) or takes the hang-up again (retake); the caller hears hold
// audio meanwhile, not the silence of a phone that is gone. A transfer to a
// queue or an agent (handedOn) puts the caller on hold for the next agent.
// An agent who puts the phone down right after the transfer, before this
// node hears of it (a lagging feed in a surge, a desk on another node),
// must not cut the caller off.
func (c *call) leftToTransfer(agent string) bool {
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	switch {
	case c.xfer.asked.Load() > 0 || c.lineAsked(ctx, agent):
		c.log.Info("the agent's phone hung up during a transfer to a line")
		c.leg.Hold(c.s.prompts.hold)
		return true
	case c.handedOn(ctx, agent):
		c.log.Info("the agent's phone hung up after the call was transferred")
		c.requeued()
		return true
	}
	return false
}

// handedOn says whether the queue has the call's contact away from agent:
// transferred (waiting in a queue again, or offered to another agent), the
// transferred event not yet read here. Unknown (Redis not answering) is no.
func (c *call) handedOn(ctx context.Context, agent string) bool {
	ct, err := c.s.q.Contact(ctx, c.trackingNo())
	if err != nil {
		c.log.Warn("contact of a call whose agent hung up not read", zap.Error(err))
		return false
	}
	return ct.State == queue.StateWaiting || ct.State == queue.StateOffered && ct.Agent != agent
}

// lineAsked says whether agent's desk has asked this node to transfer the
// call to an emergency line, a command it has not taken yet (the desk's
// transfer reaches the call's node through its command stream). Unknown
// (Redis not answering) is no.
func (c *call) lineAsked(ctx context.Context, agent string) bool {
	tn, asked := c.trackingNo(), false
	err := c.s.q.PendingCommands(ctx, func(cmd queue.Command) bool {
		asked = cmd.Type == CommandTransfer && cmd.TrackingNo == tn && cmd.Agent == agent
		return !asked
	})
	if err != nil {
		c.log.Warn("commands of a call whose agent hung up not read", zap.Error(err))
		return false
	}
	return asked
}

// announcement composes "您前面还有 N 位来电在等候，预计等待 M 分钟".
func (c *call) announcement() []*media.Clip {
	s := c.s
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	pos, err := s.q.Position(ctx, c.tn)
	if err != nil || pos <= 0 {
		return nil
	}
	ct, err := s.q.Contact(ctx, c.tn)
	var wait time.Duration
	if err == nil {
		wait, _ = s.q.ExpectedWait(ctx, ct.Queue)
	}
	return s.prompts.announcement(pos, wait, s.cfg.Announce.MaxPosition)
}

// talk bridges the caller to the agent who answered.
func (c *call) talk(a *agentLeg) {
	c.mu.Lock()
	if c.ring != a {
		c.mu.Unlock()
		a.hangup()
		return
	}
	c.state = stTalking
	c.mu.Unlock()
	a.mu.Lock()
	a.unbridge = media.Bridge(c.leg, a.leg)
	a.mu.Unlock()
	c.s.metrics.bridged.Inc()
	c.log.Info("bridged", zap.String("agent", a.agent))
}

// finish tells the queue how the call ended and hangs up what is left.
func (c *call) finish(by string) {
	s := c.s
	c.setState(stEnding)
	c.mu.Lock()
	a := c.ring
	tn := c.tn
	c.mu.Unlock()
	if a != nil {
		a.hangup()
	}
	if by != byCaller && c.dlg != nil {
		if by == byAgent && !c.rate() {
			c.leg.Hold(nil)
			c.play(false, s.prompts.get("goodbye"))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.dlg.Bye(ctx)
		cancel()
	}
	if tn != "" {
		res, err := c.recordHangup(tn, by)
		if err != nil {
			c.log.Error("hang-up not recorded", zap.Error(err))
		}
		if res.Outcome == "gone" {
			// Hung up in the welcome or the menu: no contact is kept.
			c.mu.Lock()
			c.tn = ""
			c.mu.Unlock()
		}
	}
	st := c.leg.Stats()
	s.metrics.account(legCaller, st)
	c.accounted.Store(true)
	s.metrics.ended.WithLabelValues(by).Inc()
	c.log.Info("call ended", zap.String("by", by), zap.Uint64("rtp_in", st.PacketsReceived), zap.Uint64("rtp_out", st.PacketsSent),
		zap.Uint64("rtp_lost", st.Lost))
	c.cancel(errors.New(by))
}

// recordHangup tells the queue how the call ended, trying again while Redis
// does not answer: a hang-up not recorded leaves the contact talking and its
// agent busy on voice for good (the surge replay once lost 397 of 500 agents
// so, after 789 timed-out hang-ups on a starved machine). A refusal (the
// contact gone, say) is final. Once the node is stopping it tries once: its
// next start (RecoverCalls) or, if it never comes back, the sweep takes
// over the calls it still holds in Redis.
func (c *call) recordHangup(tn, by string) (queue.HangupResult, error) {
	var res queue.HangupResult
	err := retryRedis(c.log, "the hang-up", context.Background(), c.s.stopping, 0, func(ctx context.Context) error {
		var err error
		res, err = c.s.q.Hangup(ctx, tn, by)
		return err
	})
	return res, err
}

// retryRedis runs op, a change in Redis that may be repeated harmlessly,
// with a 5 s timeout under parent, and again with back-off (200 ms to 2 s)
// while it fails for a temporary reason (queue.Temporary), until stop is
// closed or tries runs were made (0: no limit). what names the change in
// the log.
func retryRedis(log *zap.Logger, what string, parent context.Context, stop <-chan struct{}, tries int,
	op func(context.Context) error) error {
	backoff := 200 * time.Millisecond
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(parent, 5*time.Second)
		err := op(ctx)
		cancel()
		if err == nil || !queue.Temporary(err) || try == tries {
			if err == nil && try > 1 {
				log.Info(what+" recorded", zap.Int("tries", try))
			}
			return err
		}
		select {
		case <-stop:
			return err
		default:
		}
		log.Warn("recording "+what+" failed; retrying", zap.Int("try", try), zap.Error(err))
		select {
		case <-stop:
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// update answers a re-INVITE or UPDATE inside the call: hold, unhold, a new
// address. We answer with our session unchanged.
func (c *call) update(req *sip.Request, tx sip.ServerTransaction) {
	body := req.Body()
	if len(body) == 0 {
		if req.IsInvite() {
			// An offerless re-INVITE: we offer, the ACK answers. Keep it simple:
			// our session as the offer.
			res := sip.NewSDPResponseFromRequest(req, c.local.marshal())
			_ = tx.Respond(res)
			return
		}
		respond(tx, req, 200, "OK")
		return
	}
	sess, err := parseSDP(body)
	if err != nil {
		refuseSDP(tx, req, err)
		return
	}
	if !sess.remote.Addr().IsUnspecified() && c.leg != nil {
		c.leg.SetRemote(sess.remote)
	}
	held := sess.held()
	local := c.local
	local.dir = answerDir(sess.dir)
	if held && sess.remote.Addr().IsUnspecified() {
		local.dir = "recvonly"
	}
	if local.dir != c.local.dir {
		local.version++
	}
	c.local = local
	// Recorded before the answer, so whoever sees the 200 sees the hold.
	if tn := c.trackingNo(); tn != "" && c.State() == stTalking {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := c.s.q.CallHold(ctx, tn, held); err != nil {
			c.log.Warn("hold not recorded", zap.Error(err))
		}
		cancel()
	}
	_ = tx.Respond(sip.NewSDPResponseFromRequest(req, local.marshal()))
	c.log.Info("caller re-INVITE", zap.Bool("hold", held))
}
