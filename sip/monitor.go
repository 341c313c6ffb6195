package sip

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
	"github.com/lianxin/lianxin/sip/media"
	"go.uber.org/zap"
)

// Silent monitor: a supervisor listens in to a call. The gateway calls the
// supervisor's phone (their registered SIP phone, or their browser phone —
// whatever their binding is; the browser phone answers a monitor at once,
// browser.go) and, once it answers, sends it the caller and
// the agent mixed (media.Monitor, tapping the caller's leg both ways). The
// supervisor's leg is bridged to nothing: what their phone sends is read and
// dropped, so nobody in the call hears them. It ends when the supervisor
// stops it, hangs up, or the call ends.

// Errors of Monitor and MonitorStop, with the desk protocol's codes.
var (
	ErrMonitorNoCall  = &PhoneError{"not_found", "no call of that agent or contact is up"}
	ErrMonitorNoPhone = &PhoneError{"no_phone", "the supervisor has no registered phone to listen on"}
	ErrMonitorNotUp   = &PhoneError{"wrong_state", "the call is not talking to an agent"}
	ErrMonitorBrowser = &PhoneError{"no_phone", "listening in needs the supervisor's registered SIP phone (their desk has the browser phone)"}
	ErrNotMonitoring  = &PhoneError{"not_monitoring", "the supervisor is not listening in to a call"}
	ErrMonitorRefused = &PhoneError{"monitor_refused", "the supervisor's phone did not answer"}
)

// MonitorInfo tells the supervisor's desk which call they listen to.
type MonitorInfo struct {
	Type    string `json:"type"`    // "monitoring"
	State   string `json:"state"`   // "ringing" (their phone), "listening", "ended"
	Contact string `json:"contact"` // the call's tracking number
	Agent   string `json:"agent,omitempty"`
	Reason  string `json:"reason,omitempty"` // ended: stopped, call_ended, hung_up, refused
}

// headerMonitorAgent names, on a monitor's INVITE, the agent talking on the
// call (the browser phone shows it: PhoneCall.Agent).
const headerMonitorAgent = "X-Lianxin-Monitor-Agent"

// monitorLeg is one supervisor listening in.
type monitorLeg struct {
	s          *Server
	c          *call
	supervisor string
	agent      string
	id         string // Call-ID of the leg to the supervisor's phone
	ref        string // the supervisor's node's name for it (CommandMonitor); "": this node's own
	mix        *media.Monitor
	cancel     context.CancelCauseFunc
	notify     func(any)

	up   atomic.Bool // the supervisor's phone answered
	mu   sync.Mutex
	dlg  *sipgo.DialogClientSession
	leg  *media.Leg
	once sync.Once
}

// Monitor has supervisor listen in to the call of agent (or of contact tn,
// when agent is ""). It returns once their phone rings; notify (may be nil)
// is told when it answers and when the monitor ends. A supervisor listens to
// one call at a time: a new Monitor ends the previous one. A call held by
// another node is monitored there (CommandMonitor, monitor_remote.go).
func (s *Server) Monitor(ctx context.Context, supervisor, agent, tn string, notify func(any)) error {
	if notify == nil {
		notify = func(any) {}
	}
	c := s.talkingCall(agent, tn)
	if c == nil || c.ctx.Err() != nil {
		return s.monitorRemote(ctx, supervisor, agent, tn, notify)
	}
	return s.monitorHere(ctx, c, supervisor, "", notify)
}

// monitorHere starts supervisor's monitor of c, a call of this node; ref
// names a monitor asked by another node (CommandMonitor), "" for this
// node's own.
func (s *Server) monitorHere(ctx context.Context, c *call, supervisor, ref string, notify func(any)) error {
	c.mu.Lock()
	a := c.ring
	talking := c.state == stTalking && a != nil
	c.mu.Unlock()
	if !talking {
		return ErrMonitorNotUp
	}
	contact, err := s.reg.lookup(ctx, supervisor)
	if errors.Is(err, ErrNotRegistered) {
		return ErrMonitorNoPhone
	}
	if err != nil {
		return err
	}
	_ = s.MonitorStop(supervisor)
	mctx, cancel := context.WithCancelCause(c.ctx)
	m := &monitorLeg{s: s, c: c, supervisor: supervisor, agent: a.agent, id: uuid.NewString(), ref: ref,
		mix: media.NewMonitor(), cancel: cancel, notify: notify}
	s.mu.Lock()
	if s.monitors == nil {
		s.monitors = map[string]*monitorLeg{}
	}
	s.monitors[supervisor] = m
	s.mu.Unlock()
	if !s.goRing(func() { m.run(mctx, contact) }) {
		m.end("stopped")
		return errors.New("sip: the node is stopping")
	}
	return nil
}

// MonitorStop ends supervisor's listening in (on this node, or asks the node
// holding the call).
func (s *Server) MonitorStop(supervisor string) error {
	s.mu.Lock()
	m := s.monitors[supervisor]
	rm := s.remoteMonitors[supervisor]
	delete(s.remoteMonitors, supervisor)
	s.mu.Unlock()
	if m == nil && rm == nil {
		return ErrNotMonitoring
	}
	if m != nil {
		m.end("stopped")
	}
	if rm != nil {
		rm.stop(s)
	}
	return nil
}

// talkingCall finds the call of agent, or of contact tn, on this node.
func (s *Server) talkingCall(agent, tn string) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tn != "" {
		return s.byTN[tn]
	}
	for _, c := range s.byTN {
		c.mu.Lock()
		ok := c.ring != nil && c.ring.agent == agent && c.ring.up.Load()
		c.mu.Unlock()
		if ok {
			return c
		}
	}
	return nil
}

func (m *monitorLeg) info(state, reason string) MonitorInfo {
	return MonitorInfo{Type: "monitoring", State: state, Contact: m.c.trackingNo(), Agent: m.agent, Reason: reason}
}

// run calls the supervisor's phone and, once it answers, sends it the mix
// until the monitor ends.
func (m *monitorLeg) run(ctx context.Context, contact sip.Uri) {
	s, c := m.s, m.c
	log := c.log.With(zap.String("supervisor", m.supervisor))
	defer m.end("call_ended")
	conn, err := s.ports.Listen()
	if err != nil {
		log.Error("no RTP port for the monitor leg", zap.Error(err))
		return
	}
	codecs := []media.Codec{c.leg.Codec(), other(c.leg.Codec())}
	// sendrecv, not sendonly: baresip 1.0.0 plays nothing on a recvonly stream
	// (its player runs on its sender's clock); what the phone sends is read
	// and dropped.
	local := localSDP{id: rand.Uint64N(1 << 62), version: 1, ip: s.ip, codecs: codecs}
	local.port = conn.LocalAddr().(*net.UDPAddr).Port
	req := s.phoneInvite(contact, m.id, "监听 "+m.agent+" "+c.trackingNo(), c.line.Number, local,
		sip.NewHeader("X-Lianxin-Monitor", c.trackingNo()), sip.NewHeader(headerMonitorAgent, m.agent))
	m.notify(m.info("ringing", ""))
	dlg, err := s.dialogs.WriteInvite(ctx, req)
	if err != nil {
		_ = conn.Close()
		log.Warn("INVITE to the supervisor's phone failed", zap.Error(err))
		m.end("refused")
		return
	}
	m.mu.Lock()
	m.dlg = dlg
	m.mu.Unlock()
	s.mu.Lock()
	s.byMonitor[m.id] = m
	s.mu.Unlock()
	if ctx.Err() != nil { // ended while the INVITE went out: finish has run already
		s.mu.Lock()
		delete(s.byMonitor, m.id)
		s.mu.Unlock()
		_ = conn.Close()
		_ = dlg.Close()
		return
	}
	if err := waitAnswer(ctx, dlg, nil); err != nil {
		_ = conn.Close()
		log.Info("the supervisor's phone did not answer", zap.Error(err))
		m.end("refused")
		return
	}
	m.up.Store(true)
	if err := dlg.Ack(context.Background()); err != nil {
		log.Warn("ACK to the supervisor's phone failed", zap.Error(err))
	}
	answer, err := parseSDP(dlg.InviteResponse.Body())
	if err != nil || !contains(codecs, answer.codecs[0]) {
		_ = conn.Close()
		log.Warn("the supervisor's phone answered with unusable SDP", zap.Error(err))
		m.end("refused")
		return
	}
	leg := media.NewLeg(media.LegConfig{Conn: conn, Remote: answer.remote, Codec: answer.codecs[0], Logger: log})
	m.mu.Lock()
	m.leg = leg
	m.mu.Unlock()
	leg.Listen(m.mix)
	s.pacer.Add(leg)
	c.leg.SetMonitor(m.mix)
	go func() { _ = leg.Run(ctx) }() // drains what the phone sends: nothing of it goes anywhere
	log.Info("supervisor listening in")
	m.notify(m.info("listening", ""))
	select {
	case <-ctx.Done():
	case <-dlg.Context().Done(): // their BYE
		m.end("hung_up")
	}
}

// end stops listening in: the tap comes off the call, the supervisor's
// phone gets BYE (unless it hung up).
func (m *monitorLeg) end(reason string) { m.once.Do(func() { m.finish(reason) }) }

func (m *monitorLeg) finish(reason string) {
	s := m.s
	m.cancel(errors.New(reason))
	if m.c.leg != nil {
		m.c.leg.SetMonitor(nil)
	}
	m.mix.Stop()
	s.mu.Lock()
	if s.monitors[m.supervisor] == m {
		delete(s.monitors, m.supervisor)
	}
	delete(s.byMonitor, m.id)
	s.mu.Unlock()
	m.mu.Lock()
	dlg, leg := m.dlg, m.leg
	m.mu.Unlock()
	if leg != nil {
		s.pacer.Remove(leg)
		_ = leg.Close()
	}
	if dlg != nil && reason != "hung_up" && m.up.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := dlg.Bye(ctx); err != nil {
			m.c.log.Info("BYE to the supervisor's phone", zap.Error(err))
		}
		cancel()
	}
	if dlg != nil {
		_ = dlg.Close()
	}
	m.c.log.Info("supervisor stopped listening", zap.String("supervisor", m.supervisor), zap.String("reason", reason))
	m.notify(m.info("ended", reason))
}

// monitorBye takes the BYE of a supervisor's phone; false when id is no
// monitor leg.
func (s *Server) monitorBye(req *sip.Request, tx sip.ServerTransaction) bool {
	s.mu.Lock()
	m := s.byMonitor[callID(req)]
	s.mu.Unlock()
	if m == nil {
		return false
	}
	m.mu.Lock()
	dlg := m.dlg
	m.mu.Unlock()
	if dlg == nil || dlg.ReadBye(req, tx) != nil {
		respond(tx, req, 200, "OK")
	}
	go m.end("hung_up")
	return true
}
