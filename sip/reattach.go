package sip

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"go.uber.org/zap"
)

// A call on the browser phone outlives the media session and the desk that carried it:
//
//   - the desk comes back on the same node: OpenPhone gives the phone's call to the new session (browser.go);
//   - the desk comes back on another node: that node opens a phone, which becomes the agent's binding, and asks the
//     node holding each call the agent talks on (queue.CallsInTalk) to bring it back (CommandReattach). That node
//     calls the new binding with X-Lianxin-Resume: 1, which the new phone answers as soon as its media session is
//     connected, with no ringing; the caller is bridged to the new leg and the old one is hung up;
//   - the media session or the desk does not come back in time, or the desk's node shuts down: the call goes back
//     to its queue at its old place (queue.Requeue), the node holding it plays hold audio and the next agent's
//     phone rings.

// CommandReattach asks the node holding a call in talk to call the agent's phone binding again: the agent's desk
// came back on another node. Agent names the agent.
const CommandReattach = "reattach"

// headerResume marks the INVITE of a call the agent already talks on: the browser phone answers it at once.
const headerResume = "X-Lianxin-Resume"

// reclaim asks the nodes holding the calls agent talks on to bring them to this node's new browser phone.
func (s *Server) reclaim(agent string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	calls, err := s.q.CallsInTalk(ctx, agent)
	if err != nil {
		s.log.Warn("the agent's calls in talk not read", zap.String("agent", agent), zap.Error(err))
		return
	}
	for _, c := range calls {
		err := s.q.SendCommand(ctx, c.Node, queue.Command{Type: CommandReattach, TrackingNo: c.TrackingNo, Agent: agent})
		if err != nil {
			s.log.Warn("reattach not asked", zap.String("contact", c.TrackingNo), zap.Error(err))
			continue
		}
		s.log.Info("asked the call's node to bring the call to this desk", zap.String("agent", agent),
			zap.String("contact", c.TrackingNo), zap.String("node", c.Node))
	}
}

// answerWhenConnected answers a resumed call once the phone's media session is connected; it is declined if the
// session does not connect within sip.browser_reconnect.
func (c *browserCall) answerWhenConnected() {
	deadline := time.Now().Add(c.p.s.cfg.BrowserReconnect)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for c.p.session().State().String() != "connected" {
		if time.Now().After(deadline) {
			c.hangup(errMediaLost)
			return
		}
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.answer:
	default:
		close(c.answer)
	}
}

// backToQueue follows a requeue (queue.EventRequeued): the agent's leg is dropped and the caller hears hold audio
// until the next agent answers. The leg's BYE goes out in the background, so the next offer rings at once.
func (c *call) backToQueue(agent string) {
	c.mu.Lock()
	a := c.ring
	if a != nil && a.agent != agent {
		a = nil // an event about another agent's leg (already replaced)
	} else {
		c.ring = nil
		c.state = stWaiting
	}
	c.mu.Unlock()
	if a == nil {
		return
	}
	a.mu.Lock()
	if a.unbridge != nil {
		a.unbridge()
	}
	a.mu.Unlock()
	c.leg.Hold(c.s.prompts.hold)
	go a.hangup()
	c.log.Info("the agent's phone lost the call: back in the queue", zap.String("agent", agent))
}

// reattach calls agent's phone binding again for this call in talk (the desk came back on another node), bridges
// the caller to the new leg, and hangs up the old one. The caller hears the agent throughout until the new leg
// answers.
func (c *call) reattach(agent string) {
	s := c.s
	log := c.log.With(zap.String("agent", agent))
	c.mu.Lock()
	old, st := c.ring, c.state
	c.mu.Unlock()
	if st != stTalking || old == nil || old.agent != agent {
		log.Info("reattach asked of a call not in talk with that agent", zap.String("state", st))
		return
	}
	start := time.Now()
	contact, err := s.reg.lookup(c.ctx, agent)
	if err != nil {
		log.Warn("reattach: the agent has no phone now", zap.Error(err))
		return
	}
	if old.dlg != nil && old.dlg.InviteRequest.Recipient.String() == contact.String() {
		log.Info("reattach: the call is on that phone already")
		return
	}
	ctx, cancel := context.WithCancelCause(c.ctx) // a.stop's: bounded by the call
	a := &agentLeg{c: c, agent: agent, id: uuid.NewString(), cancel: cancel}
	s.mu.Lock()
	s.byAgent[a.id] = c
	s.mu.Unlock()
	forget := func() {
		cancel(nil)
		s.mu.Lock()
		delete(s.byAgent, a.id)
		s.mu.Unlock()
	}
	conn, err := s.ports.Listen()
	if err != nil {
		forget()
		log.Error("reattach: no RTP port", zap.Error(err))
		return
	}
	callerCodec := c.leg.Codec()
	codecs := []media.Codec{callerCodec, other(callerCodec)}
	local := localSDP{id: rand.Uint64N(1 << 62), version: 1, ip: s.ip, codecs: codecs, eventPT: ourEventPT,
		port: conn.LocalAddr().(*net.UDPAddr).Port}
	req := s.phoneInvite(contact, a.id, callerDisplay(c), c.line.Number, local,
		sip.NewHeader("X-Lianxin-Contact", c.tn), sip.NewHeader(headerResume, "1"))
	dlg, err := s.dialogs.WriteInvite(ctx, req)
	if err != nil {
		_ = conn.Close()
		forget()
		log.Warn("reattach: INVITE failed", zap.Error(err))
		return
	}
	a.dlg = dlg
	timer := time.AfterFunc(s.cfg.BrowserReconnect+5*time.Second, a.stop)
	defer timer.Stop()
	err = waitAnswer(ctx, dlg, func() { a.provisional.Store(true) })
	if err != nil {
		_ = conn.Close()
		forget()
		log.Info("reattach: the new phone did not answer", zap.Error(err))
		return
	}
	if err := dlg.Ack(context.Background()); err != nil {
		log.Warn("reattach: ACK failed", zap.Error(err))
	}
	answer, err := parseSDP(dlg.InviteResponse.Body())
	if err != nil || !contains(codecs, answer.codecs[0]) {
		_ = conn.Close()
		a.up.Store(true)
		a.bye()
		forget()
		log.Warn("reattach: unusable answer", zap.Error(err))
		return
	}
	leg := media.NewLeg(media.LegConfig{Conn: conn, Remote: answer.remote, Codec: answer.codecs[0],
		EventPT: answer.eventPT, MediaTimeout: s.cfg.MediaTimeout, Logger: log})
	local.codecs = []media.Codec{answer.codecs[0]}
	a.mu.Lock()
	a.local, a.leg = local, leg
	a.mu.Unlock()
	go func() {
		if err := leg.Run(c.ctx); errors.Is(err, media.ErrMediaTimeout) {
			s.metrics.mediaTimeouts.Inc()
			c.agentHungUp(a.id)
		}
	}()
	a.up.Store(true)
	c.mu.Lock()
	if c.ring != old || c.state != stTalking {
		c.mu.Unlock()
		log.Info("reattach: the call moved on meanwhile")
		a.hangup()
		return
	}
	c.ring = a
	a.mu.Lock()
	a.unbridge = media.Bridge(c.leg, leg)
	a.mu.Unlock()
	c.mu.Unlock()
	go old.hangup()
	log.Info("call reattached to the agent's new phone", zap.Duration("took", time.Since(start)))
}

// browserCallCount counts the calls on this node's browser phones (a drain waits for them: the agent's desk moves
// to another node, which takes them back).
func (s *Server) browserCallCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.browserCalls)
}
