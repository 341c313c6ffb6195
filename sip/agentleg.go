package sip

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/lianxin/lianxin/sip/media"
	"go.uber.org/zap"
)

// agentLeg is the call to an agent's phone: rung when routing offers the
// call, bridged to the caller when the phone answers.
type agentLeg struct {
	c     *call
	agent string
	id    string // its Call-ID
	dlg   *sipgo.DialogClientSession
	leg   *media.Leg

	cancel      context.CancelCauseFunc
	provisional atomic.Bool // a 1xx arrived: a CANCEL can be sent
	unbridge    func()      // guarded by mu
	once        sync.Once
	local       localSDP    // our offer to the phone (its answer's codec once answered)
	held        bool        // the phone put the caller on hold (re-INVITE); guarded by mu
	up          atomic.Bool // answered and acknowledged
	gone        atomic.Bool // the phone hung up
	accounted   atomic.Bool // its counts went to the metrics
	mu          sync.Mutex  // guards leg, set when the phone answers

	// referring: the phone's REFER is being done (onRefer); its hang-up
	// meanwhile leaves the caller to the transfer.
	referring atomic.Bool
}

// media is the leg's RTP endpoint, nil until the phone answered.
func (a *agentLeg) media() *media.Leg {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.leg
}

// agentBye takes the BYE of the agent's phone: the dialog ends there, so
// the hang-up that follows sends none back.
func (c *call) agentBye(id string, req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	a := c.ring
	c.mu.Unlock()
	if a == nil || a.id != id || a.dlg == nil {
		respond(tx, req, 200, "OK")
		c.agentHungUp(id)
		return
	}
	a.gone.Store(true)
	if err := a.dlg.ReadBye(req, tx); err != nil {
		respond(tx, req, 200, "OK")
	}
	c.agentHungUp(id)
}

// offered rings agent's phone for this call until deadline. A second
// offered event for the same ringing is ignored.
func (c *call) offered(agent string, deadline time.Time) {
	c.mu.Lock()
	if c.ring != nil && c.ring.agent == agent {
		c.mu.Unlock()
		return
	}
	if c.ring != nil {
		old := c.ring
		c.mu.Unlock()
		old.hangup()
		c.mu.Lock()
	}
	ctx, cancel := context.WithCancelCause(c.ctx)
	a := &agentLeg{c: c, agent: agent, id: uuid.NewString(), cancel: cancel}
	c.ring = a
	c.state = stOffered
	c.mu.Unlock()
	c.s.mu.Lock()
	c.s.byAgent[a.id] = c
	c.s.mu.Unlock()
	if !c.s.goRing(func() { a.ringing(ctx, deadline) }) {
		a.hangup() // the node is stopping
	}
}

// stopRinging stops ringing agent's phone: the offer was rescinded.
func (c *call) stopRinging(agent string) {
	c.mu.Lock()
	a := c.ring
	if a == nil || a.agent != agent || a.up.Load() {
		c.mu.Unlock()
		return
	}
	c.ring = nil
	if c.state == stOffered {
		c.state = stWaiting
	}
	c.mu.Unlock()
	a.hangup()
}

// ringing places the INVITE to the phone and waits for its answer.
func (a *agentLeg) ringing(ctx context.Context, deadline time.Time) {
	c, s := a.c, a.c.s
	log := c.log.With(zap.String("agent", a.agent))
	reject := func(why string) {
		rctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := s.q.Reject(rctx, a.agent, c.tn); err != nil {
			log.Info("reject after "+why, zap.Error(err))
		}
		c.dropRing(a)
	}
	// Gone is a ringing that ended before it began: the call ended or the
	// offer was rescinded. The offer is the call's or the queue's to settle
	// then; a reject would count a miss against an agent who missed nothing.
	gone := func(why string, err error) {
		log.Info("ringing ended before "+why, zap.Error(err))
		c.dropRing(a)
	}
	contact, err := s.lookupPhone(ctx, a.agent, deadline)
	if err != nil {
		if ctx.Err() != nil {
			gone("the phone was looked up", err)
			return
		}
		log.Warn("agent offered a call but has no phone", zap.Error(err))
		reject("no phone")
		return
	}
	if rb := s.cfg.RingTimeoutBrowser; rb > 0 && strings.HasPrefix(contact.User, "desk-") {
		// A browser phone rings for its own time: the offer's deadline moves with it.
		nd := deadline.Add(rb - s.cfg.RingTimeout)
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.q.SetOfferDeadline(dctx, a.agent, c.tn, nd)
		cancel()
		if err != nil {
			log.Info("the browser phone's ring deadline not set; it rings for ring_timeout", zap.Error(err))
		} else {
			deadline = nd
		}
	}
	conn, err := s.ports.Listen()
	if err != nil {
		log.Error("no RTP port for the agent leg", zap.Error(err))
		reject("no port")
		return
	}
	callerCodec := c.leg.Codec()
	codecs := []media.Codec{callerCodec, other(callerCodec)}
	local := localSDP{id: rand.Uint64N(1 << 62), version: 1, ip: s.ip, codecs: codecs, eventPT: ourEventPT}
	local.port = conn.LocalAddr().(*net.UDPAddr).Port

	req := s.phoneInvite(contact, a.id, callerDisplay(c), c.line.Number, local, sip.NewHeader("X-Lianxin-Contact", c.tn))

	dlg, err := s.dialogs.WriteInvite(ctx, req)
	if err != nil {
		_ = conn.Close()
		if ctx.Err() != nil {
			gone("the INVITE was sent", err)
			return
		}
		log.Warn("INVITE to the agent's phone failed", zap.Error(err))
		reject("invite failed")
		return
	}
	a.dlg = dlg
	timer := time.AfterFunc(time.Until(deadline), func() { a.stop() })
	defer timer.Stop()
	err = waitAnswer(ctx, dlg, func() { a.provisional.Store(true) })
	if err != nil {
		_ = conn.Close()
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			// Busy, declined, unavailable: a miss, the call back to its place.
			log.Info("agent's phone refused", zap.Int("status", de.Res.StatusCode))
			reject("refused")
			return
		}
		c.dropRing(a)
		log.Info("ringing ended", zap.Error(err))
		return
	}
	if err := dlg.Ack(context.Background()); err != nil {
		log.Warn("ACK to the agent's phone failed", zap.Error(err))
	}
	answer, err := parseSDP(dlg.InviteResponse.Body())
	if err != nil || !contains(codecs, answer.codecs[0]) {
		_ = conn.Close()
		log.Warn("agent's phone answered with unusable SDP", zap.Error(err))
		a.bye()
		reject("bad answer")
		return
	}
	leg := media.NewLeg(media.LegConfig{Conn: conn, Remote: answer.remote, Codec: answer.codecs[0],
		EventPT: answer.eventPT, MediaTimeout: s.cfg.MediaTimeout, Logger: log})
	local.codecs = []media.Codec{answer.codecs[0]}
	a.mu.Lock()
	a.local = local
	a.leg = leg
	a.mu.Unlock()
	go func() {
		if err := a.leg.Run(c.ctx); errors.Is(err, media.ErrMediaTimeout) {
			s.metrics.mediaTimeouts.Inc()
			c.agentHungUp(a.id)
		}
	}()
	// Up as soon as it answered, as the legs dial and reattach make: the
	// queue has the contact as the agent's once the answer is recorded, and
	// from then on a transfer asked for it waits for the bridge (transferOut),
	// a hang-up is a BYE.
	a.up.Store(true)
	if err = c.recordAnswer(a.agent, log); err != nil {
		log.Info("the phone answered but the offer is gone", zap.Error(err))
		a.bye()
		_ = a.leg.Close()
		c.dropRing(a)
		return
	}
	if s.afterAnswer != nil {
		s.afterAnswer()
	}
	select {
	case c.answered <- a:
	case <-c.ctx.Done():
		a.hangup()
	}
}

// lookupPhone is the agent's phone binding. A failure to read it (Redis
// slow or away) is tried again, every 200 ms until the offer's deadline or
// ctx ends, so that a node's own trouble is not a miss counted against the
// agent; ErrNotRegistered (no phone) is at once.
func (s *Server) lookupPhone(ctx context.Context, agent string, deadline time.Time) (sip.Uri, error) {
	for {
		contact, err := s.reg.lookup(ctx, agent)
		if err == nil || errors.Is(err, ErrNotRegistered) || ctx.Err() != nil ||
			time.Until(deadline) < 200*time.Millisecond {
			return contact, err
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return contact, err
		}
	}
}

// dropRing forgets a leg that did not come up.
func (c *call) dropRing(a *agentLeg) {
	c.mu.Lock()
	if c.ring == a {
		c.ring = nil
		if c.state == stOffered {
			c.state = stWaiting
		}
	}
	c.mu.Unlock()
	c.s.mu.Lock()
	delete(c.s.byAgent, a.id)
	c.s.mu.Unlock()
}

// stop gives up ringing: CANCEL when the phone said something, else a
// forced end (an INVITE with no answer at all would wait for Timer B).
func (a *agentLeg) stop() {
	if a.provisional.Load() {
		a.cancel(context.Canceled)
	} else {
		a.cancel(sipgo.WaitAnswerForceCancelErr)
	}
}

// hangup ends the agent leg in whatever state it is.
func (a *agentLeg) hangup() {
	a.once.Do(func() {
		a.mu.Lock()
		if a.unbridge != nil {
			a.unbridge()
		}
		a.mu.Unlock()
		if a.up.Load() {
			a.bye()
		} else {
			a.stop()
		}
		if l := a.media(); l != nil {
			_ = l.Close()
			a.c.s.metrics.account(legAgent, l.Stats())
			a.accounted.Store(true)
		}
		a.c.dropRing(a)
	})
}

func (a *agentLeg) bye() {
	if a.dlg == nil || a.gone.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.dlg.Bye(ctx); err != nil {
		a.c.log.Info("BYE to the agent's phone", zap.Error(err))
	}
	_ = a.dlg.Close()
}

// agentUpdate answers a re-INVITE (or UPDATE) from the agent's phone: hold puts the caller on the gateway's hold
// audio — as the browser phone's hold does — and unhold bridges them again; a new address is followed. We answer
// with our session, its direction answering the phone's.
func (c *call) agentUpdate(a *agentLeg, req *sip.Request, tx sip.ServerTransaction) {
	body := req.Body()
	a.mu.Lock()
	local := a.local
	leg := a.leg
	a.mu.Unlock()
	if len(body) == 0 || leg == nil {
		if req.IsInvite() && leg != nil {
			_ = tx.Respond(sip.NewSDPResponseFromRequest(req, local.marshal()))
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
	if !sess.remote.Addr().IsUnspecified() {
		leg.SetRemote(sess.remote)
	}
	held := sess.held()
	local.dir = answerDir(sess.dir)
	if held && sess.remote.Addr().IsUnspecified() {
		local.dir = "recvonly"
	}
	local.version++
	a.mu.Lock()
	a.local = local
	changed := a.held != held
	a.held = held
	talking := c.State() == stTalking
	if changed && talking {
		if held {
			if a.unbridge != nil {
				a.unbridge()
			}
			c.leg.Hold(c.s.prompts.hold)
			leg.Mute()
		} else {
			a.unbridge = media.Bridge(c.leg, leg)
		}
	}
	a.mu.Unlock()
	if changed && talking {
		if tn := c.trackingNo(); tn != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := c.s.q.CallHold(ctx, tn, held); err != nil {
				c.log.Warn("hold not recorded", zap.Error(err))
			}
			cancel()
		}
	}
	_ = tx.Respond(sip.NewSDPResponseFromRequest(req, local.marshal()))
	c.log.Info("agent's phone re-INVITE", zap.Bool("hold", held))
}

func other(c media.Codec) media.Codec {
	if c == media.PCMU {
		return media.PCMA
	}
	return media.PCMU
}

func contains(cs []media.Codec, c media.Codec) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// phoneInvite is the gateway's INVITE to a phone at contact (an agent's or a
// supervisor's): shown as display from the call's line, offering local, with
// headers (the tracking number and the like) after Content-Type.
func (s *Server) phoneInvite(contact sip.Uri, callID, display, line string, local localSDP, headers ...sip.Header) *sip.Request {
	req := sip.NewRequest(sip.INVITE, contact)
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	from := &sip.FromHeader{DisplayName: display,
		Address: sip.Uri{Scheme: "sip", User: line, Host: s.ip.String(), Port: int(s.addr.Port())},
		Params:  sip.NewParams()}
	from.Params.Add("tag", strconv.FormatUint(rand.Uint64(), 36))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: contact, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	for _, h := range headers {
		req.AppendHeader(h)
	}
	req.SetBody(local.marshal())
	if tr, ok := contact.UriParams.Get("transport"); ok && tr != "" {
		req.SetTransport(tr)
	}
	return req
}

// callerDisplay is how an agent's phone shows the call: the caller's number
// (anonymous when withheld) and the tracking number.
func callerDisplay(c *call) string {
	if c.caller == "" {
		return "anonymous " + c.tn
	}
	return c.caller + " " + c.tn
}

// recordAnswer records that agent's phone answered the call's offer
// (queue.Accept), trying again while Redis does not answer: an accept
// whose reply was lost may have been done, and the phone hung up then
// leaves the contact held by an agent who is not on the call (the caller
// on hold for good). Accept is repeatable (a second says "already"). It
// stops when the call ends or after about 20 s (the offer is then gone
// anyway).
func (c *call) recordAnswer(agent string, log *zap.Logger) error {
	return retryRedis(log, "the phone's answer", c.ctx, c.ctx.Done(), 5, func(ctx context.Context) error {
		return c.s.q.Accept(ctx, agent, c.tn)
	})
}
