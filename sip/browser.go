package sip

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/rtc"
	"go.uber.org/zap"
)

// The browser softphone. An agent who chooses the browser gets a WebRTC media session on the node holding their
// desk, and that node becomes the agent's phone: it writes the agent's phone binding (the registrar's, kind
// "browser") with a contact on its own SIP address, user "desk-<agent>". The node holding a call rings the
// browser exactly as it rings a SIP phone (agentleg.go) — across nodes too — and this node answers the INVITE when
// the agent answers in the page, bridging a plain RTP leg (to the call's node) to the session's leg. Refusal, ring
// timeout, abandon and BYE work as for a SIP phone.

// Browser phone errors, as the desk reports them: each has a Code, the desk protocol's error code.
var (
	ErrNoSoftphone = &PhoneError{"no_softphone", "the browser phone is not enabled on this node"}
	ErrPhoneClosed = &PhoneError{"phone_closed", "the browser phone is not open: choose the browser first"}
	ErrNoCall      = &PhoneError{"no_call", "no call on the browser phone"}
	ErrNotRinging  = &PhoneError{"not_ringing", "the browser phone is not ringing"}
	ErrNotTalking  = &PhoneError{"not_talking", "no call is up on the browser phone"}
	ErrNoMediaYet  = &PhoneError{"no_media", "the browser's media session is not connected"}
	ErrBadOffer    = &PhoneError{"bad_offer", "the browser's offer cannot be taken"}

	errBrowserGone  = errors.New("browser phone closed")
	errDeskHungUp   = errors.New("agent hung up in the desk")
	errDeskDeclined = errors.New("agent declined in the desk")
)

// PhoneError is a browser phone request refused; Code is the desk protocol's error code.
type PhoneError struct{ code, msg string }

func (e *PhoneError) Error() string { return "sip: " + e.msg }

// Code is the desk protocol's error code.
func (e *PhoneError) Code() string { return e.code }

// Desk messages told to the agent's page (documented in agentdesk/PROTOCOL.md, "The browser phone").

// PhoneCall is the state of the call on the browser phone.
type PhoneCall struct {
	Type    string `json:"type"`  // "phone_call"
	State   string `json:"state"` // ringing, talking, ended
	Contact string `json:"contact,omitempty"`
	Caller  string `json:"caller,omitempty"` // masked
	Muted   bool   `json:"muted"`
	Held    bool   `json:"held"`
	// Reason, when ended: caller (the call's side hung up or gave up ringing), agent, media_lost, shutdown.
	Reason string `json:"reason,omitempty"`
	// Monitor: a supervisor's silent monitor of call Contact (answered at once; the call does not hear them).
	Monitor bool `json:"monitor,omitempty"`
	// Agent, of a monitor: the agent talking on the call listened to.
	Agent string `json:"agent,omitempty"`
}

// PhoneMedia is the state of the browser's media session: new, connecting, connected, disconnected, failed,
// closed (RTCPeerConnection's names).
type PhoneMedia struct {
	Type  string `json:"type"` // "phone_media"
	State string `json:"state"`
}

// browserPhone is one agent's browser phone on this node.
type browserPhone struct {
	s      *Server
	agent  string
	sess   *rtc.Session
	notify func(any)
	log    *zap.Logger
	stop   chan struct{}

	mu   sync.Mutex
	call *browserCall
	lost *time.Timer // a call is up and the media session dropped: ends the call unless it comes back
	left *time.Timer // the desk went during a call: closes the phone unless the desk comes back
}

// browserCall is a call ringing or up on a browser phone.
type browserCall struct {
	p       *browserPhone
	id      string // Call-ID
	fromTag string // the calling node's tag: its requests carry it in From
	tn      string
	caller  string
	monitor bool // a supervisor's silent monitor (monitor.go): answered at once
	dlg     *sipgo.DialogServerSession
	offer   session
	answer  chan struct{} // closed when the agent answers
	end     context.CancelCauseFunc
	ctx     context.Context
	// watched, of a monitor: the agent talking on the call listened to
	watched string

	mu       sync.Mutex
	leg      *media.Leg
	unbridge func()
	muted    bool
	held     bool
	up       bool
	once     sync.Once
	resume   bool   // the call's node brings back a call the agent talked on (reattach.go): answered at once
	requeued string // the call went back to its queue (queue.Requeue's reason): the phone_call's end reason
}

// silence is what a muted agent sends: the caller's side keeps its media timeout quiet.
var silence = media.NewHoldStream("silence", media.NewClip("silence", make([]int16, media.FrameSamples*50)))

// browserTTL is the binding's lifetime; it is refreshed while the phone is open, so a node that dies leaves no
// binding for long.
const browserTTL = 2 * time.Minute

func (s *Server) browserPhone(agent string) *browserPhone {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.browsers[agent]
}

// OpenPhone makes the browser the agent's phone: a media session, and the agent's phone binding on this node.
// notify gets the desk messages (PhoneCall, PhoneMedia; the answers to offers are returned by PhoneOffer). A phone
// already open for the agent on this node with a call on it — the desk reconnected — keeps its call: the new
// session takes the old one's place in the call, and the desk is told the call's state. Otherwise an open phone is
// replaced.
func (s *Server) OpenPhone(ctx context.Context, agent string, notify func(any)) error {
	if s.rtc == nil {
		return ErrNoSoftphone
	}
	if p := s.browserPhone(agent); p != nil && p.current() != nil && !p.current().isRequeued() {
		return p.reattach(notify)
	}
	log := s.log.With(zap.String("agent", agent), zap.String("phone", "browser"))
	p := &browserPhone{s: s, agent: agent, notify: notify, log: log, stop: make(chan struct{})}
	sess, err := p.newSession()
	if err != nil {
		return err
	}
	p.sess = sess
	if err := s.reg.bindBrowser(ctx, agent, s.browserURI(agent)); err != nil {
		_ = sess.Close()
		return err
	}
	s.mu.Lock()
	old := s.browsers[agent]
	s.browsers[agent] = p
	s.mu.Unlock()
	if old != nil {
		old.close("replaced", false, "")
	}
	go p.refresh()
	go s.reclaim(agent) // a call the agent talks on through another node's phone comes here (reattach.go)
	log.Info("browser phone open")
	return nil
}

// newSession makes a media session whose state changes reach mediaState while it is the phone's.
func (p *browserPhone) newSession() (*rtc.Session, error) {
	var mine atomic.Pointer[rtc.Session]
	sess, err := p.s.rtc.NewSession(func(st rtc.State) {
		if cur := mine.Load(); cur != nil && cur == p.session() {
			p.mediaState(st)
		}
	}, p.log)
	if err != nil {
		return nil, err
	}
	mine.Store(sess)
	return sess, nil
}

func (p *browserPhone) session() *rtc.Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sess
}

func (p *browserPhone) tell(msg any) {
	p.mu.Lock()
	notify := p.notify
	p.mu.Unlock()
	notify(msg)
}

// reattach gives the phone, and its call, to a desk that came back: a new session replaces the old one in the call.
func (p *browserPhone) reattach(notify func(any)) error {
	sess, err := p.newSession()
	if err != nil {
		return err
	}
	p.mu.Lock()
	old := p.sess
	p.sess, p.notify = sess, notify
	if p.left != nil {
		p.left.Stop()
		p.left = nil
	}
	if p.lost != nil { // the old session's watch: the new one is watched below
		p.lost.Stop()
		p.lost = nil
	}
	c := p.call
	p.mu.Unlock()
	_ = old.Close()
	if c != nil {
		c.mu.Lock()
		state := "ringing"
		if c.up {
			state = "talking"
			c.unbridge = nil // the old session's leg is closed: bridge the new one
			c.applyLocked()
		}
		msg := c.stateLocked(state, "")
		up := c.up
		c.mu.Unlock()
		notify(msg)
		if up {
			p.watchMedia(c, p.s.cfg.BrowserReconnect) // the new session must connect, as a dropped one must come back
		}
	}
	p.log.Info("browser phone taken back by a reconnected desk")
	return nil
}

// LeavePhone is the desk going away (not a choice): a phone with a call on it waits sip.browser_reconnect for the
// agent's desk to come back (OpenPhone, on this node or another: reattach.go), else it closes and a call in talk
// goes back to its queue at its old place (reason desk_lost).
func (s *Server) LeavePhone(agent string) {
	p := s.browserPhone(agent)
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.call == nil {
		p.mu.Unlock()
		s.ClosePhone(agent)
		return
	}
	if p.left == nil {
		p.left = time.AfterFunc(s.cfg.BrowserReconnect, func() {
			s.mu.Lock()
			still := s.browsers[agent] == p
			if still {
				delete(s.browsers, agent)
			}
			s.mu.Unlock()
			if still {
				p.close("the desk did not come back", true, queue.RequeueDeskLost)
			}
		})
	}
	p.mu.Unlock()
	p.log.Info("desk gone during a call; waiting for it to come back")
}

// ClosePhone gives the agent's browser phone up (back to the SIP phone, logout, the desk gone): its call is hung
// up, its session closed, and its binding removed — a SIP phone rings again from its next REGISTER.
func (s *Server) ClosePhone(agent string) { s.closePhone(agent, "closed", "") }

// closePhone closes the agent's phone; a call in talk on it goes back to its queue for requeue ("": it is hung up).
func (s *Server) closePhone(agent, why, requeue string) {
	s.mu.Lock()
	p := s.browsers[agent]
	if p != nil {
		delete(s.browsers, agent)
	}
	s.mu.Unlock()
	if p != nil {
		p.close(why, true, requeue)
	}
}

func (s *Server) browserURI(agent string) sip.Uri {
	return sip.Uri{Scheme: "sip", User: "desk-" + agent, Host: s.ip.String(), Port: int(s.addr.Port())}
}

func (p *browserPhone) close(why string, unbind bool, requeue string) {
	close(p.stop)
	if c := p.current(); c != nil {
		if requeue != "" {
			c.lose(requeue, errBrowserGone)
		} else {
			c.hangup(errBrowserGone)
		}
	}
	p.mu.Lock()
	if p.left != nil {
		p.left.Stop()
	}
	p.mu.Unlock()
	_ = p.session().Close()
	if unbind {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if err := p.s.reg.unbindBrowser(ctx, p.agent, p.s.browserURI(p.agent)); err != nil {
			p.log.Warn("browser phone binding not removed", zap.Error(err))
		}
		cancel()
	}
	p.log.Info("browser phone closed", zap.String("why", why))
}

func (p *browserPhone) refresh() {
	t := time.NewTicker(browserTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := p.s.reg.bindBrowser(ctx, p.agent, p.s.browserURI(p.agent)); err != nil {
				p.log.Warn("browser phone binding not refreshed", zap.Error(err))
			}
			cancel()
		}
	}
}

func (p *browserPhone) current() *browserCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.call
}

// mediaState follows the media session: told to the desk; a call whose session is disconnected or failed, and
// not back within sip.browser_media_grace (the desk restarts ICE), goes back to its queue at its old place (reason
// media_lost) — unless the desk itself went: then LeavePhone's wait decides.
func (p *browserPhone) mediaState(st rtc.State) {
	p.tell(PhoneMedia{Type: "phone_media", State: st.String()})
	switch st.String() {
	case "connected":
		p.mu.Lock()
		if p.lost != nil {
			p.lost.Stop()
			p.lost = nil
		}
		p.mu.Unlock()
	case "disconnected", "failed", "closed":
		if c := p.current(); c != nil {
			p.watchMedia(c, p.s.cfg.BrowserMediaGrace)
		}
	}
}

// watchMedia gives call c up (media_lost) unless the phone's session is connected within grace.
func (p *browserPhone) watchMedia(c *browserCall, grace time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.call != c || p.lost != nil {
		return
	}
	lost := time.Now()
	p.lost = time.AfterFunc(grace, func() {
		p.mu.Lock()
		gone := p.left != nil
		p.lost = nil // a later drop is watched again
		p.mu.Unlock()
		if gone || p.session().State().String() == "connected" {
			return
		}
		p.log.Warn("browser media lost during a call", zap.Duration("after", time.Since(lost)))
		c.lose(queue.RequeueMediaLost, errMediaLost)
	})
}

func (c *browserCall) isRequeued() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requeued != ""
}

// lose gives up a call the browser phone cannot carry on: a call in talk goes back to its queue at its old place
// (queue.Requeue with reason; the caller hears hold audio, and the node holding the call drops this leg with a
// BYE); a ringing call, or one the queue does not take back, ends with fallback.
func (c *browserCall) lose(reason string, fallback error) {
	c.mu.Lock()
	up, tn, done := c.up, c.tn, c.requeued != ""
	c.mu.Unlock()
	if done {
		return
	}
	if !up || tn == "" || c.monitor { // a supervisor listening in holds no call to give back
		c.hangup(fallback)
		return
	}
	// Marked before the queue is asked: the call's node hangs this leg up as
	// soon as the requeue is in Redis, maybe before Requeue returns here, and
	// the desk must be told the reason, not that the other side hung up.
	c.mu.Lock()
	c.requeued = reason
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	err := c.p.s.q.Requeue(ctx, c.p.agent, tn, reason)
	cancel()
	log := c.p.log.With(zap.String("contact", tn), zap.String("reason", reason))
	if err != nil {
		log.Warn("call not put back in its queue; hanging up", zap.Error(err))
		c.mu.Lock()
		c.requeued = ""
		c.mu.Unlock()
		c.hangup(fallback)
		return
	}
	log.Info("call back in its queue at its old place")
	// The call's node hangs this leg up at once; should it not (it is gone), so do we.
	time.AfterFunc(10*time.Second, func() { c.hangup(fallback) })
}

var errMediaLost = errors.New("media_lost")

// PhoneOffer answers the browser's offer (the first, or an ICE restart).
func (s *Server) PhoneOffer(ctx context.Context, agent, sdp string) (string, error) {
	p := s.browserPhone(agent)
	if p == nil {
		return "", ErrPhoneClosed
	}
	answer, err := p.session().Answer(ctx, sdp)
	if errors.Is(err, rtc.ErrBadOffer) || errors.Is(err, rtc.ErrNoCodec) {
		return "", fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	return answer, err
}

// PhoneAnswer answers the ringing call.
func (s *Server) PhoneAnswer(_ context.Context, agent string) error {
	c, err := s.phoneCall(agent)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.answer:
		return ErrNotRinging
	default:
	}
	if c.p.session().State().String() != "connected" {
		return ErrNoMediaYet
	}
	close(c.answer)
	return nil
}

// PhoneHangup hangs up the call (up or ringing: a ringing call is declined, a miss like a phone's refusal).
func (s *Server) PhoneHangup(_ context.Context, agent string) error {
	c, err := s.phoneCall(agent)
	if err != nil {
		return err
	}
	c.hangup(errDeskHungUp)
	return nil
}

// PhoneHold puts the caller on hold (they hear the hold stream; the agent hears nothing) or takes them off it.
func (s *Server) PhoneHold(_ context.Context, agent string, on bool) error {
	return s.withUp(agent, func(c *browserCall) { c.held = on })
}

// PhoneMute stops or restarts the agent's audio to the caller (who hears silence while muted).
func (s *Server) PhoneMute(_ context.Context, agent string, on bool) error {
	return s.withUp(agent, func(c *browserCall) { c.muted = on })
}

// PhoneDigit sends a key press to the caller's side (RFC 4733).
func (s *Server) PhoneDigit(ctx context.Context, agent string, d rune) error {
	c, err := s.phoneCall(agent)
	if err != nil {
		return err
	}
	c.mu.Lock()
	leg := c.leg
	c.mu.Unlock()
	if leg == nil {
		return ErrNotTalking
	}
	if err := leg.SendDigit(ctx, d); errors.Is(err, media.ErrNoEvents) {
		return &PhoneError{"no_dtmf", "the call's side takes no key presses (no telephone-event)"}
	} else if err != nil {
		return err
	}
	return nil
}

func (s *Server) phoneCall(agent string) (*browserCall, error) {
	p := s.browserPhone(agent)
	if p == nil {
		return nil, ErrPhoneClosed
	}
	c := p.current()
	if c == nil {
		return nil, ErrNoCall
	}
	return c, nil
}

func (s *Server) withUp(agent string, f func(*browserCall)) error {
	c, err := s.phoneCall(agent)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if !c.up || c.leg == nil {
		c.mu.Unlock()
		return ErrNotTalking
	}
	f(c)
	c.applyLocked()
	msg := c.stateLocked("talking", "")
	c.mu.Unlock()
	c.p.tell(msg)
	return nil
}

// applyLocked sets what each side hears from hold and mute: on hold the caller hears the hold stream and the
// agent nothing; muted, the caller hears silence and the agent the caller; else the two are bridged.
func (c *browserCall) applyLocked() {
	bl := c.p.session().Leg()
	switch {
	case c.held:
		if c.unbridge != nil {
			c.unbridge()
			c.unbridge = nil
		}
		c.leg.Hold(c.p.s.prompts.hold)
		bl.Mute()
	case c.muted:
		if c.unbridge == nil {
			c.unbridge = media.Bridge(c.leg, bl)
		}
		c.leg.Hold(silence) // the browser's audio is no longer relayed; the caller still reaches the browser
	default:
		c.unbridge = media.Bridge(c.leg, bl)
	}
}

func (c *browserCall) stateLocked(state, reason string) PhoneCall {
	return PhoneCall{Type: "phone_call", State: state, Contact: c.tn, Caller: c.caller, Muted: c.muted, Held: c.held,
		Reason: reason, Monitor: c.monitor, Agent: c.watched}
}

// hangup ends the call from this side: declined while ringing, BYE once up.
func (c *browserCall) hangup(cause error) { c.end(cause) }

// browserInvite takes an INVITE to "desk-<agent>" from a trusted node: rings the agent's desk, answers when the
// agent does, bridges the call to the browser, and returns when the call is over.
func (s *Server) browserInvite(req *sip.Request, tx sip.ServerTransaction, agent string) {
	p := s.browserPhone(agent)
	if p == nil || s.rtc == nil {
		respond(tx, req, 480, "Temporarily Unavailable")
		return
	}
	offer, err := parseSDP(req.Body())
	if err != nil || !contains(offer.codecs, s.rtc.Codec()) {
		respond(tx, req, 488, "Not Acceptable Here")
		return
	}
	fromTag := ""
	if f := req.From(); f != nil {
		fromTag, _ = f.Params.Get("tag")
	}
	caller := ""
	if f := req.From(); f != nil {
		// "<caller> <tracking number>" as the calling node writes it; only the number's tail is shown.
		if name, _, ok := strings.Cut(f.DisplayName, " "); ok {
			if e, ok := channels.NormalizePhone(name); ok {
				caller = channels.MaskPhone(e)
			} else if name == "anonymous" {
				caller = "anonymous"
			}
		}
	}
	tn := ""
	if h := req.GetHeader("X-Lianxin-Contact"); h != nil {
		tn = h.Value()
	}
	resume := false
	if h := req.GetHeader(headerResume); h != nil && h.Value() == "1" {
		resume = true
	}
	monitor, watched := false, ""
	if h := req.GetHeader("X-Lianxin-Monitor"); h != nil {
		tn, monitor, caller = h.Value(), true, ""
		if h := req.GetHeader(headerMonitorAgent); h != nil {
			watched = h.Value()
		}
		if p.session().State().String() != "connected" {
			respond(tx, req, 480, "Temporarily Unavailable")
			return
		}
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	c := &browserCall{p: p, id: callID(req), fromTag: fromTag, tn: tn, caller: caller, offer: offer,
		answer: make(chan struct{}), end: cancel, ctx: ctx, resume: resume, monitor: monitor,
		watched: watched}
	if monitor {
		close(c.answer) // a silent monitor is answered at once
	}
	p.mu.Lock()
	if p.call != nil {
		p.mu.Unlock()
		respond(tx, req, 486, "Busy Here")
		return
	}
	p.call = c
	p.mu.Unlock()
	s.mu.Lock()
	s.browserCalls[c.id] = c
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.browserCalls, c.id)
		s.mu.Unlock()
		p.mu.Lock()
		if p.call == c {
			p.call = nil
		}
		if p.lost != nil {
			p.lost.Stop()
			p.lost = nil
		}
		p.mu.Unlock()
	}()
	c.run(req, tx)
}

func (c *browserCall) run(req *sip.Request, tx sip.ServerTransaction) {
	p, s := c.p, c.p.s
	log := p.log.With(zap.String("contact", c.tn))
	dlg, err := s.dialogs.ReadInvite(req, tx)
	if err != nil {
		respond(tx, req, 400, "Bad Request")
		return
	}
	c.dlg = dlg
	defer dlg.Close()
	_ = dlg.Respond(180, "Ringing", nil)
	if c.resume {
		go c.answerWhenConnected()
	} else {
		p.tell(c.stateLocked("ringing", ""))
	}
	select {
	case <-c.answer:
	case <-dlg.Context().Done(): // CANCEL: the call's node stopped ringing
		p.tell(c.stateLocked("ended", "caller"))
		return
	case <-c.ctx.Done():
		_ = dlg.Respond(603, "Decline", nil)
		p.tell(c.stateLocked("ended", reasonOf(context.Cause(c.ctx))))
		return
	}
	conn, err := s.ports.Listen()
	if err != nil {
		log.Error("no RTP port for the browser phone", zap.Error(err))
		_ = dlg.Respond(503, "Service Unavailable", nil)
		p.tell(c.stateLocked("ended", "agent"))
		return
	}
	codec := s.rtc.Codec()
	leg := media.NewLeg(media.LegConfig{Conn: conn, Remote: c.offer.remote, Codec: codec, EventPT: c.offer.eventPT,
		MediaTimeout: s.cfg.MediaTimeout, Logger: log})
	defer leg.Close()
	local := localSDP{id: rand.Uint64N(1 << 62), version: 1, ip: s.ip, port: int(leg.LocalAddr().Port()),
		codecs: []media.Codec{codec}, eventPT: c.offer.eventPT}
	s.pacer.Add(leg)
	defer s.pacer.Remove(leg)
	c.mu.Lock()
	c.leg, c.up = leg, true
	c.applyLocked()
	c.mu.Unlock()
	go func() {
		if err := leg.Run(c.ctx); errors.Is(err, media.ErrMediaTimeout) {
			c.end(errMediaTimeout)
		}
	}()
	if err := dlg.RespondSDP(local.marshal()); err != nil {
		log.Info("browser phone answer not sent", zap.Error(err))
		p.tell(c.stateLocked("ended", "caller"))
		return
	}
	c.mu.Lock()
	msg := c.stateLocked("talking", "")
	c.mu.Unlock()
	p.tell(msg)
	log.Info("browser phone answered")
	var why string
	select {
	case <-dlg.Context().Done(): // the call's node sent BYE
		why = "caller"
	case <-c.ctx.Done():
		why = reasonOf(context.Cause(c.ctx))
		bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := dlg.Bye(bctx); err != nil {
			log.Info("BYE from the browser phone", zap.Error(err))
		}
		cancel()
	}
	c.mu.Lock()
	if c.unbridge != nil {
		c.unbridge()
		c.unbridge = nil
	}
	c.up = false
	if c.requeued != "" {
		why = c.requeued
	}
	msg = c.stateLocked("ended", why)
	c.mu.Unlock()
	p.session().Leg().Mute()
	p.tell(msg)
	log.Info("browser phone call ended", zap.String("by", why))
}

var errMediaTimeout = errors.New("media_timeout")

func reasonOf(err error) string {
	switch {
	case errors.Is(err, errDeskHungUp), errors.Is(err, errDeskDeclined):
		return "agent"
	case errors.Is(err, errMediaLost), errors.Is(err, errMediaTimeout):
		return "media_lost"
	case errors.Is(err, errBrowserGone):
		return "closed"
	}
	return "shutdown"
}

// browserRequest finds the browser call a request inside its dialog belongs to: the calling node's requests
// carry its From tag (this node's own requests to itself, on the agent leg, carry ours).
func (s *Server) browserRequest(req *sip.Request) *browserCall {
	id := callID(req)
	s.mu.Lock()
	c := s.browserCalls[id]
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	if f := req.From(); f != nil {
		if tag, _ := f.Params.Get("tag"); tag == c.fromTag {
			return c
		}
	}
	return nil
}

func (s *Server) browserBye(c *browserCall, req *sip.Request, tx sip.ServerTransaction) {
	if c.dlg == nil || c.dlg.ReadBye(req, tx) != nil {
		respond(tx, req, 200, "OK")
		c.end(errors.New("caller"))
	}
}

// desk-<agent>: the user part of a browser phone's contact.
func browserAgent(req *sip.Request) (string, bool) {
	if a, ok := strings.CutPrefix(req.Recipient.User, "desk-"); ok && a != "" {
		return a, true
	}
	return "", false
}

// closePhones closes every browser phone of this node (shutdown): a call in talk whose caller is on another node
// goes back to its queue at its old place (reason shutdown); one whose caller is on this node ends with it.
func (s *Server) closePhones() {
	s.mu.Lock()
	agents := make([]string, 0, len(s.browsers))
	requeue := make(map[string]string, len(s.browsers))
	for a, p := range s.browsers {
		agents = append(agents, a)
		if c := p.current(); c != nil && s.byTN[c.tn] == nil {
			requeue[a] = queue.RequeueShutdown
		}
	}
	s.mu.Unlock()
	for _, a := range agents {
		s.closePhone(a, "shutdown", requeue[a])
	}
}
