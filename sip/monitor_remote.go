package sip

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// A supervisor listens in to a call held by another node: their node finds
// the node holding the call (queue.CallsInTalk for an agent, the contact's
// node for a contact) and asks it, through that node's command stream (as
// reattach does), to start the monitor (CommandMonitor). That node calls the
// supervisor's phone binding — a SIP phone, or the browser phone on whichever
// node holds it — and sends each step back to the supervisor's node
// (CommandMonitoring), which tells the desk or wallboard that asked.
// monitor_stop goes the same way (CommandMonitorStop).

// Commands of a silent monitor across nodes. Args: "supervisor", "id" (the
// supervisor's node's name for this monitor; a step of an older one is
// dropped), and for CommandMonitor "node" (where to send the steps), for
// CommandMonitoring "state" and "reason" (MonitorInfo's).
const (
	CommandMonitor     = "monitor"      // to the node holding the call: call the supervisor's phone
	CommandMonitorStop = "monitor_stop" // to that node: stop
	CommandMonitoring  = "monitoring"   // back to the supervisor's node: a step (MonitorInfo)
)

// remoteMonitor is a supervisor of this node listening in to a call held by
// another node.
type remoteMonitor struct {
	id, node   string
	supervisor string
	contact    string
	agent      string
	notify     func(any)
}

// monitorRemote asks the node holding the call of agent (or contact tn) to
// start supervisor's monitor.
func (s *Server) monitorRemote(ctx context.Context, supervisor, agent, tn string, notify func(any)) error {
	node, tn, err := s.callNode(ctx, agent, tn)
	if err != nil {
		return err
	}
	if _, err := s.reg.lookup(ctx, supervisor); errors.Is(err, ErrNotRegistered) {
		return ErrMonitorNoPhone
	} else if err != nil {
		return err
	}
	_ = s.MonitorStop(supervisor)
	rm := &remoteMonitor{id: uuid.NewString(), node: node, supervisor: supervisor, contact: tn, agent: agent,
		notify: notify}
	s.mu.Lock()
	if s.remoteMonitors == nil {
		s.remoteMonitors = map[string]*remoteMonitor{}
	}
	s.remoteMonitors[supervisor] = rm
	s.mu.Unlock()
	err = s.q.SendCommand(ctx, node, queue.Command{Type: CommandMonitor, TrackingNo: tn, Agent: agent,
		Args: map[string]string{"supervisor": supervisor, "id": rm.id, "node": s.q.NodeID()}})
	if err != nil {
		s.mu.Lock()
		if s.remoteMonitors[supervisor] == rm {
			delete(s.remoteMonitors, supervisor)
		}
		s.mu.Unlock()
		return err
	}
	s.log.Info("asked the call's node to let the supervisor listen in", zap.String("supervisor", supervisor),
		zap.String("contact", tn), zap.String("node", node))
	return nil
}

// callNode finds the node holding the call agent talks on (or call tn), and
// the call's tracking number.
func (s *Server) callNode(ctx context.Context, agent, tn string) (string, string, error) {
	node := ""
	if agent != "" {
		calls, err := s.q.CallsInTalk(ctx, agent)
		if err != nil {
			return "", "", err
		}
		if len(calls) == 0 {
			return "", "", ErrMonitorNoCall
		}
		node, tn = calls[0].Node, calls[0].TrackingNo
	} else {
		c, err := s.q.Contact(ctx, tn)
		if errors.Is(err, queue.ErrNotFound) {
			return "", "", ErrMonitorNoCall
		}
		if err != nil {
			return "", "", err
		}
		if c.Channel != queue.ChannelVoice || c.Node == "" {
			return "", "", ErrMonitorNoCall
		}
		if c.State != queue.StateAssigned {
			return "", "", ErrMonitorNotUp
		}
		node = c.Node
	}
	if node == s.q.NodeID() { // this node holds it, and it is not up (talkingCall)
		return "", "", ErrMonitorNoCall
	}
	return node, tn, nil
}

// stop asks the call's node to end the monitor, and tells the supervisor it
// ended (the node's own "ended" then finds no monitor here and is dropped).
func (rm *remoteMonitor) stop(s *Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.q.SendCommand(ctx, rm.node, queue.Command{Type: CommandMonitorStop, TrackingNo: rm.contact,
		Args: map[string]string{"supervisor": rm.supervisor, "id": rm.id}})
	if err != nil {
		s.log.Warn("monitor_stop not sent to the call's node", zap.String("node", rm.node), zap.Error(err))
	}
	rm.notify(MonitorInfo{Type: "monitoring", State: "ended", Contact: rm.contact, Agent: rm.agent, Reason: "stopped"})
}

// onMonitorCommand does a monitor command from another node.
func (s *Server) onMonitorCommand(cmd queue.Command) {
	sup, id := cmd.Args["supervisor"], cmd.Args["id"]
	if sup == "" || id == "" {
		s.log.Warn("monitor command without supervisor or id", zap.String("type", cmd.Type))
		return
	}
	switch cmd.Type {
	case CommandMonitor:
		go s.monitorFor(cmd.Args["node"], sup, id, cmd.Agent, cmd.TrackingNo)
	case CommandMonitorStop:
		s.mu.Lock()
		m := s.monitors[sup]
		s.mu.Unlock()
		if m != nil && m.ref == id {
			go m.end("stopped")
		}
	case CommandMonitoring:
		s.mu.Lock()
		rm := s.remoteMonitors[sup]
		if rm == nil || rm.id != id {
			s.mu.Unlock()
			return // a step of a monitor already ended or replaced here
		}
		if cmd.Agent != "" {
			rm.agent = cmd.Agent
		}
		state := cmd.Args["state"]
		if state == "ended" {
			delete(s.remoteMonitors, sup)
		}
		mi := MonitorInfo{Type: "monitoring", State: state, Contact: cmd.TrackingNo, Agent: rm.agent,
			Reason: cmd.Args["reason"]}
		s.mu.Unlock()
		rm.notify(mi)
	}
}

// monitorFor starts a monitor asked by node back for its supervisor sup, of
// call tn of this node; each step goes back to that node.
func (s *Server) monitorFor(back, sup, id, agent, tn string) {
	notify := func(m any) {
		mi, ok := m.(MonitorInfo)
		if !ok || back == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := s.q.SendCommand(ctx, back, queue.Command{Type: CommandMonitoring, TrackingNo: mi.Contact, Agent: mi.Agent,
			Args: map[string]string{"supervisor": sup, "id": id, "state": mi.State, "reason": mi.Reason}})
		if err != nil {
			s.log.Warn("monitoring step not sent to the supervisor's node", zap.String("node", back), zap.Error(err))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := s.talkingCall("", tn)
	err := error(ErrMonitorNoCall)
	if c != nil && c.ctx.Err() == nil {
		err = s.monitorHere(ctx, c, sup, id, notify)
	}
	if err != nil {
		reason := "refused"
		var pe *PhoneError
		if errors.As(err, &pe) {
			reason = pe.Code()
		}
		s.log.Info("monitor asked by another node not started", zap.String("supervisor", sup),
			zap.String("contact", tn), zap.Error(err))
		notify(MonitorInfo{Type: "monitoring", State: "ended", Contact: tn, Agent: agent, Reason: reason})
	}
}
