package agentdesk

import (
	"context"

	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// Monitors is the voice side of a supervisor's silent monitor (sip.Server implements it, beside Softphone): the
// supervisor's phone is called and hears the call of an agent (or of a contact) mixed, and nothing of theirs
// reaches the call. Errors with a Code() method give the desk error's code.
type Monitors interface {
	// Monitor starts listening in; notify delivers "monitoring" messages (ringing, listening, ended).
	Monitor(ctx context.Context, supervisor, agent, contact string, notify func(any)) error
	// MonitorStop ends it.
	MonitorStop(supervisor string) error
}

var (
	errMonitorForbidden = &codedError{"forbidden", "只有班长（supervisor）可以监听通话"}
	errNoMonitor        = &codedError{"no_monitor", "本节点未启用语音，无法监听（voice is not enabled on this node）"}
)

// checkMonitor checks monitor's fields: exactly one of agent and contact.
func checkMonitor(m *inbound) *protocolError {
	bad := func(msg string) *protocolError { return &protocolError{"bad_message", msg} }
	switch {
	case m.Agent == "" && m.Contact == "":
		return bad("agent: or contact: one of them is required (whose call to listen to)")
	case m.Agent != "" && m.Contact != "":
		return bad("agent: give agent or contact, not both")
	case len(m.Agent) > maxAgentIDBytes:
		return bad("agent: at most 64 bytes")
	case m.Contact != "" && !queue.ValidTrackingNo(m.Contact):
		return bad("contact: must be a tracking number")
	}
	return nil
}

// monitor does a monitor or monitor_stop for a supervisor, from a desk or a wallboard; notify gets the
// "monitoring" messages.
func (s *Server) monitor(ctx context.Context, sup Agent, m inbound, notify func(any)) error {
	if !sup.Supervisor {
		return errMonitorForbidden
	}
	mon, ok := s.softphone.(Monitors)
	if !ok || mon == nil {
		return errNoMonitor
	}
	if m.Type == "monitor_stop" {
		return mon.MonitorStop(sup.ID)
	}
	if m.Agent != "" {
		if _, known := s.agents[m.Agent]; !known {
			return &codedError{"not_found", "no agent " + strconvQuote(m.Agent)}
		}
	}
	err := mon.Monitor(ctx, sup.ID, m.Agent, m.Contact, notify)
	if err == nil {
		s.log.Info("supervisor listens in", zap.String("supervisor", sup.ID), zap.String("agent", m.Agent),
			zap.String("contact", m.Contact))
	}
	return err
}
