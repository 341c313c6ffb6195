package sip

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/lianxin/lianxin/channels/linkage"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"go.uber.org/zap"
)

// Trunk is the outbound trunk (sip.trunk): calls the gateway places, to a
// transfer target (110, 120, …) and, for callbacks, to citizens.
type Trunk struct {
	// Proxy is where every outbound INVITE is sent (host:port), whatever
	// the request-URI names. Default "": to the request-URI's host.
	Proxy string `yaml:"proxy"`
	// Transport is "udp" (default) or "tcp".
	Transport string `yaml:"transport"`
	// AnswerTimeout is how long an outbound call may ring. Default 30s.
	AnswerTimeout time.Duration `yaml:"answer_timeout"`
}

// Transfer sets transfers started from the desk (sip.transfer).
type Transfer struct {
	// Boost raises a contact's priority when it is transferred to a queue
	// or an agent (0–9). Default 2.
	Boost int `yaml:"boost"`
	// MissReturn is where a transfer to a named agent goes when that agent
	// misses it: "agent" (back to the agent who transferred it; default)
	// or "queue".
	MissReturn string `yaml:"miss_return"`
	// Targets are the emergency lines, by number (110, 119, 120, 122): the
	// SIP URI a call is bridged to, the webhook the contact's data is
	// pushed to, and the shared secret that signs it.
	Targets map[string]linkage.Target `yaml:"targets"`
	// Window is how far the timestamp of a push from 110 may be from our
	// clock (POST /channels/110/pushes). Default 5m.
	Window time.Duration `yaml:"window"`
	// Queue is where 110's referrals wait for an agent to call the citizen
	// back. Default: the first queue.
	Queue string `yaml:"queue"`
}

// CommandTransfer is the command (queue.Command.Type) that asks the node
// holding a call to transfer it to an emergency line. Args: "to" (110, 119,
// 120, 122), "mode" ("blind" or "warm"), "note".
const CommandTransfer = "transfer"

func setTransferDefaults(c *Config) {
	if c.Transfer.Boost == 0 {
		c.Transfer.Boost = 2
	}
	if c.Transfer.MissReturn == "" {
		c.Transfer.MissReturn = "agent"
	}
	if c.Transfer.Window == 0 {
		c.Transfer.Window = 5 * time.Minute
	}
	if c.Trunk.AnswerTimeout == 0 {
		c.Trunk.AnswerTimeout = 30 * time.Second
	}
	if c.Trunk.Transport == "" {
		c.Trunk.Transport = "udp"
	}
}

// xfer is a call's transfer to an emergency line.
type xfer struct {
	busy atomic.Bool            // a transfer is under way
	line atomic.Pointer[string] // the line the call is bridged to, once it is
	// asked counts the desk's transfers this node has taken from its
	// command stream and not finished (onCommand): the call's loop leaves
	// a hang-up of the agent's phone to them.
	asked atomic.Int32
}

// external reports whether the caller now talks to an emergency line: the
// contact is closed, and its closing must not end the call.
func (c *call) external() bool { return c.xfer.line.Load() != nil }

// commands reads this node's command stream and does each command about a
// call it holds.
func (s *Server) commands(ctx context.Context) error {
	return s.q.Commands(ctx, s.onCommand)
}

func (s *Server) onCommand(cmd queue.Command) {
	if f := s.beforeCommand.Load(); f != nil {
		(*f)(cmd)
	}
	switch cmd.Type {
	case CommandTransfer:
		s.mu.Lock()
		c := s.byTN[cmd.TrackingNo]
		s.mu.Unlock()
		if c == nil {
			s.log.Info("transfer of a call this node no longer holds", zap.String("contact", cmd.TrackingNo))
			s.tellLine(cmd.Agent, cmd.TrackingNo, cmd.Args["to"], cmd.Args["mode"], queue.LineRefused, LineGone)
			return
		}
		c.xfer.asked.Add(1)
		if !s.goRing(func() {
			if f := s.beforeTransferOut.Load(); f != nil {
				(*f)()
			}
			ok := c.transferOut(cmd.Agent, cmd.Args["to"], cmd.Args["mode"], cmd.Args["note"], nil)
			c.xfer.asked.Add(-1) // before retake: the loop must see it done
			if !ok {
				c.retake(cmd.Agent)
			}
		}) {
			c.xfer.asked.Add(-1)
		}
	case CommandReattach:
		s.mu.Lock()
		c := s.byTN[cmd.TrackingNo]
		s.mu.Unlock()
		if c != nil {
			s.goRing(func() { c.reattach(cmd.Agent) })
		}
	case CommandMonitor, CommandMonitorStop, CommandMonitoring:
		s.onMonitorCommand(cmd)
	}
}

// requeued follows a transfer to a queue or an agent: the agent's leg is
// hung up and the caller hears hold audio until the next agent answers.
func (c *call) requeued() {
	c.mu.Lock()
	if c.ring == nil && c.state == stWaiting {
		c.mu.Unlock()
		return // already (handedOn): the hold audio plays on
	}
	a := c.ring
	c.ring = nil
	c.state = stWaiting
	c.mu.Unlock()
	if a != nil {
		a.hangup()
	}
	c.leg.Hold(c.s.prompts.hold)
	c.log.Info("transferred back to the queue")
}

// retake takes again a hang-up of agent's phone that the call's loop left
// to a transfer that did not go ahead: the agent left the caller.
func (c *call) retake(agent string) {
	c.mu.Lock()
	a := c.ring
	c.mu.Unlock()
	if a != nil && a.agent == agent && a.gone.Load() {
		c.agentHungUp(a.id)
	}
}

// bridgeWait bounds how long a transfer waits for the call's bridge to the
// agent whose phone has answered (see transferOut).
const bridgeWait = 2 * time.Second

// transferOut bridges the caller to emergency line to: blind (the agent's
// leg is dropped at once and the caller hears hold audio until the line
// answers) or warm (the agent stays with the caller until the line answers,
// then drops). Once it answers, the contact closes with outcome
// transferred_<line> and its data is pushed to the line's webhook. If the
// line does not answer, a blind transfer puts the caller back in the queue
// (priority raised, with a note); a warm one leaves the agent talking.
// It reports whether it went ahead (false: refused, the call untouched);
// taken, if set, runs once it does, before the agent's leg is dropped.
func (c *call) transferOut(agent, to, mode, note string, taken func()) bool {
	s := c.s
	log := c.log.With(zap.String("to", to), zap.String("mode", mode))
	tn := c.trackingNo()
	tell := func(state, reason string) { s.tellLine(agent, tn, to, mode, state, reason) }
	refuse := func(reason string) bool {
		tell(queue.LineRefused, reason)
		return false
	}
	t, ok := s.cfg.Transfer.Targets[to]
	if !ok || !linkage.IsLine(to) || t.URI == "" {
		log.Warn("transfer to a line with no target configured")
		return refuse(LineNoTarget)
	}
	uri, err := parseTarget(t.URI)
	if err != nil {
		log.Error("transfer target unusable", zap.Error(err))
		return refuse(LineNoTarget)
	}
	if c.leg == nil {
		log.Info("a callback's talk is not transferred to a line by the gateway")
		return refuse(LineCallback)
	}
	if !c.xfer.busy.CompareAndSwap(false, true) {
		log.Info("a transfer is under way already")
		return refuse(LineUnderWay)
	}
	defer c.xfer.busy.Store(false)
	c.mu.Lock()
	a, st := c.ring, c.state
	c.mu.Unlock()
	// The agent's phone answered and the queue has the contact as theirs
	// (so the desk offers the transfer), but the call's own loop may not
	// have bridged them yet: a transfer asked at once, by a quick agent or
	// from a desk on another node, waits for the bridge instead of being
	// dropped. CI saw it dropped 1 ms before the bridge.
	for until := time.Now().Add(bridgeWait); st == stOffered && a != nil && a.agent == agent && a.up.Load() &&
		c.ctx.Err() == nil && time.Now().Before(until); {
		time.Sleep(5 * time.Millisecond)
		c.mu.Lock()
		a, st = c.ring, c.state
		c.mu.Unlock()
	}
	if st != stTalking || a == nil || a.agent != agent {
		log.Info("transfer asked of a call not in talk with that agent", zap.String("state", st))
		return refuse(LineNotInTalk)
	}
	if taken != nil {
		taken()
	}
	if a.gone.Load() {
		mode = "blind" // an agent whose phone is gone cannot stay with the caller (tell says so)
	}
	blind := mode != "warm"
	if blind {
		c.mu.Lock()
		c.ring = nil
		c.mu.Unlock()
		a.hangup()
		c.leg.Hold(s.prompts.hold)
	}
	log.Info("transferring the call")
	tell(queue.LineCalling, "")
	callerCodec := c.leg.Codec()
	ext, err := c.dial(uri, []media.Codec{callerCodec, other(callerCodec)}, to, s.cfg.Trunk.AnswerTimeout, true)
	if err != nil {
		log.Warn("the line did not answer", zap.Error(err))
		why := c.lineFailure(err)
		if !blind && a.gone.Load() {
			blind, mode = true, "blind" // warm, and the agent put the phone down while the line rang
		}
		tell(queue.LineFailed, why)
		s.alertLineFailed(tn, to, why, agent, blind)
		if blind {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := s.q.Transfer(ctx, agent, tn, queue.TransferTo{Queue: c.queueName(ctx),
				Note: strings.TrimSpace("转" + to + "未接通。" + note), Boost: s.cfg.Transfer.Boost})
			cancel()
			if err != nil {
				log.Error("caller could not be put back in the queue", zap.Error(err))
			}
		}
		return true
	}
	line := to
	c.mu.Lock()
	old := c.ring
	c.ring = ext
	c.xfer.line.Store(&line)
	c.mu.Unlock()
	if old != nil {
		old.hangup() // warm: the agent drops now
	}
	ext.unbridge = media.Bridge(c.leg, ext.media())
	s.metrics.bridged.Inc()
	log.Info("bridged to the line")
	tell(queue.LineConnected, "")

	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 10*time.Second)
	defer cancel()
	rt := queue.RequestHelp
	if ct, err := s.q.Contact(ctx, tn); err == nil && ct.RequestType.Valid() {
		rt = ct.RequestType
	}
	if err := s.q.WrapUp(ctx, agent, tn, rt, queue.Outcome("transferred_"+to), note); err != nil {
		log.Error("transferred call not closed", zap.Error(err))
	}
	if s.p.Pushes != nil {
		if err := s.p.Pushes.Transfer(ctx, tn, to, t.URI); err != nil {
			log.Error("push to the line not queued", zap.Error(err))
		}
	}
	return true
}

// Why a transfer to an emergency line failed (queue.LineFailed) or was
// refused (queue.LineRefused: the request did nothing) (queue.LineStep.Reason).
const (
	// Failed.
	LineBusy        = "busy"        // the line answered busy (486, 600)
	LineNoAnswer    = "no_answer"   // it rang out (sip.trunk.answer_timeout, or 408, 480, 487)
	LineUnreachable = "unreachable" // any other failure to reach it
	LineCallerGone  = "caller_gone" // the caller hung up first
	// Refused.
	LineNotInTalk = "not_in_talk" // the call is not in talk with the agent who asked
	LineUnderWay  = "under_way"   // a transfer of the call is under way already
	LineNoTarget  = "no_target"   // the line has no usable target on the node holding the call
	LineCallback  = "callback"    // a callback's talk is not bridged to a line by the gateway
	LineGone      = "gone"        // the node no longer holds the call
)

// tellLine tells agent a step of the transfer of call tn to line to
// (through the event stream: their desk may be on another node), and
// counts the transfer once it is done.
func (s *Server) tellLine(agent, tn, to, mode, state, reason string) {
	if mode != "warm" {
		mode = "blind"
	}
	if state != queue.LineCalling {
		line, result := to, reason
		if !linkage.IsLine(line) {
			line = "other"
		}
		if state == queue.LineConnected {
			result = queue.LineConnected
		}
		s.metrics.lineTransfers.WithLabelValues(line, result).Inc()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.q.LineTransferStep(ctx, agent, tn, queue.LineStep{To: to, Mode: mode, State: state, Reason: reason})
	if err != nil {
		s.log.Warn("the agent was not told how the transfer goes", zap.String("contact", tn), zap.String("state", state),
			zap.Error(err))
	}
}

// AlertLineFailed is the kind of the supervisors' alert (queue.Alert) for
// a call an emergency line did not take: busy, rang out or unreachable.
const AlertLineFailed = "line_failed"

// lineFailedZH says why a line did not take a call, for people.
var lineFailedZH = map[string]string{LineBusy: "对方占线", LineNoAnswer: "无人接听", LineUnreachable: "线路不通"}

// alertLineFailed tells the supervisors that line to did not take call tn
// (why: busy, no answer, unreachable): an emergency the line did not take
// is theirs to follow, and if the line fails for every agent, the floor
// must call it by other means.
func (s *Server) alertLineFailed(tn, to, why, agent string, blind bool) {
	zh, ok := lineFailedZH[why]
	if !ok {
		return // the caller hung up: nobody waits on the line any more
	}
	then := "坐席 " + agent + " 仍在与来电人通话"
	if blind {
		then = "来电已回到队列优先等待（坐席 " + agent + " 转出）"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.q.Alert(ctx, tn, AlertLineFailed, "转"+to+"未接通（"+zh+"）："+then); err != nil {
		s.log.Warn("supervisors not told the line did not take the call", zap.String("contact", tn), zap.Error(err))
	}
}

// lineFailure says why dialling a line failed, for the agent.
func (c *call) lineFailure(err error) string {
	var ae *answerError
	switch {
	case c.ctx.Err() != nil:
		return LineCallerGone
	case !errors.As(err, &ae):
		return LineUnreachable
	case ae.status == 0 || ae.status == 408 || ae.status == 480 || ae.status == 487:
		return LineNoAnswer
	case ae.status == 486 || ae.status == 600:
		return LineBusy
	}
	return LineUnreachable
}

// answerError is an outbound call that was not answered: a final response
// (status), or none before the ring timeout (status 0).
type answerError struct {
	label  string
	status int
	reason string
	err    error
}

func (e *answerError) Error() string {
	if e.status == 0 {
		return fmt.Sprintf("%s did not answer: %v", e.label, e.err)
	}
	return fmt.Sprintf("%s answered %d %s", e.label, e.status, e.reason)
}

func (e *answerError) Unwrap() error { return e.err }

// queueName is the queue the call's contact waits in.
func (c *call) queueName(ctx context.Context) string {
	if ct, err := c.s.q.Contact(ctx, c.trackingNo()); err == nil {
		return ct.Queue
	}
	return c.line.Queue
}

// parseTarget reads a configured SIP URI ("sip:120@10.1.2.3:5060").
func parseTarget(s string) (sip.Uri, error) {
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		return u, fmt.Errorf("sip: target %q: %w", s, err)
	}
	if u.Host == "" || (u.Scheme != "sip" && u.Scheme != "sips") {
		return u, fmt.Errorf("sip: target %q: a sip: URI with a host is required", s)
	}
	return u, nil
}

// dial calls uri for call c (through the outbound trunk when trunk is
// set), offering codecs, and returns the answered leg, registered with the
// server so its BYE reaches the call. label names the leg in logs; timeout
// bounds the ringing.
func (c *call) dial(uri sip.Uri, codecs []media.Codec, label string, timeout time.Duration, trunk bool) (*agentLeg, error) {
	s := c.s
	ctx, cancel := context.WithCancelCause(c.ctx)
	a := &agentLeg{c: c, agent: "line:" + label, id: uuid.NewString(), cancel: cancel}
	s.mu.Lock()
	s.byAgent[a.id] = c
	s.mu.Unlock()
	fail := func(err error) (*agentLeg, error) {
		cancel(err)
		s.mu.Lock()
		delete(s.byAgent, a.id)
		s.mu.Unlock()
		return nil, err
	}
	conn, err := s.ports.Listen()
	if err != nil {
		return fail(err)
	}
	local := localSDP{id: rand.Uint64N(1 << 62), version: 1, ip: s.ip, codecs: codecs, eventPT: ourEventPT,
		port: conn.LocalAddr().(*net.UDPAddr).Port}
	shown := c.caller
	if label == "citizen" {
		shown = "" // a callback shows the citizen the hotline's number
	}
	req := s.outboundInvite(uri, a.id, shown, c.line.Number, c.tn, trunk)
	req.SetBody(local.marshal())
	dlg, err := s.dialogs.WriteInvite(ctx, req)
	if err != nil {
		_ = conn.Close()
		return fail(err)
	}
	a.dlg = dlg
	var rangOut atomic.Bool
	timer := time.AfterFunc(timeout, func() { rangOut.Store(true); a.stop() })
	defer timer.Stop()
	err = waitAnswer(ctx, dlg, func() { a.provisional.Store(true) })
	if err != nil {
		_ = conn.Close()
		var de *sipgo.ErrDialogResponse
		switch {
		case errors.As(err, &de):
			return fail(&answerError{label: label, status: de.Res.StatusCode, reason: de.Res.Reason, err: err})
		case rangOut.Load():
			return fail(&answerError{label: label, err: err})
		}
		return fail(fmt.Errorf("%s: %w", label, err))
	}
	if err := dlg.Ack(context.Background()); err != nil {
		c.log.Warn("ACK of an outbound call failed", zap.Error(err))
	}
	answer, err := parseSDP(dlg.InviteResponse.Body())
	if err != nil || !contains(codecs, answer.codecs[0]) {
		_ = conn.Close()
		a.up.Store(true)
		a.bye()
		return fail(fmt.Errorf("%s answered with unusable SDP: %v", label, err))
	}
	leg := media.NewLeg(media.LegConfig{Conn: conn, Remote: answer.remote, Codec: answer.codecs[0],
		EventPT: answer.eventPT, MediaTimeout: s.cfg.MediaTimeout, Logger: c.log.With(zap.String("leg", label))})
	a.mu.Lock()
	a.leg = leg
	a.mu.Unlock()
	go func() {
		if err := leg.Run(c.ctx); errors.Is(err, media.ErrMediaTimeout) {
			s.metrics.mediaTimeouts.Inc()
			c.agentHungUp(a.id)
		}
	}()
	a.up.Store(true)
	return a, nil
}

// outboundInvite is an INVITE to uri through the trunk, showing the
// citizen's number (the line's when withheld) and carrying the tracking
// number.
func (s *Server) outboundInvite(uri sip.Uri, callID, citizen, line, tn string, trunk bool) *sip.Request {
	req := sip.NewRequest(sip.INVITE, uri)
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	user := line
	if citizen != "" {
		user = citizen
	}
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: s.ip.String(), Port: int(s.addr.Port())},
		Params: sip.NewParams()}
	from.Params.Add("tag", strconv.FormatUint(rand.Uint64(), 36))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: uri, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	if tn != "" {
		req.AppendHeader(sip.NewHeader("X-Lianxin-Contact", tn))
	}
	if !trunk {
		if tr, ok := uri.UriParams.Get("transport"); ok && tr != "" {
			req.SetTransport(tr)
		}
		return req
	}
	if s.cfg.Trunk.Transport != "" && s.cfg.Trunk.Transport != "udp" {
		req.SetTransport(strings.ToUpper(s.cfg.Trunk.Transport))
	}
	if s.cfg.Trunk.Proxy != "" {
		req.SetDestination(s.cfg.Trunk.Proxy)
	}
	return req
}
