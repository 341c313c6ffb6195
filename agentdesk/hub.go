package agentdesk

import (
	"context"
	"sync"
	"time"

	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// Run delivers queue events to the desks connected to this node until ctx
// ends. Events come from every node, so an agent is offered a letter that was
// posted to any node.
//
// The same events feed the supervisors' wallboard (board.go): its figures
// for today are first rebuilt from the stream, from today's midnight up to
// where this subscription starts.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	// The node's one reader of the stream, shared with the SIP server.
	return s.q.SubscribeShared(ctx, func(pos string) {
		go func() { _ = s.watchHotTopics(ctx) }()
		wg.Add(3)
		go func() { defer wg.Done(); s.board.rebuild(ctx, s.q, pos, s.keepAlert) }()
		go func() { defer wg.Done(); s.board.run(ctx) }()
		go func() { defer wg.Done(); s.pushWallboards(ctx) }()
	}, s.onEvent)
}

func (s *Server) onEvent(ev queue.Event) {
	if s.eventSeen != nil {
		defer s.eventSeen(ev)
	}
	self := s.q.NodeID()
	if ev.Type == queue.EventNodeLost {
		if ev.Node == self && ev.Reason == "node_lost" {
			// Other nodes took us for dead and unseated our desks: have them
			// reconnect, which seats them again.
			s.log.Warn("this node was declared lost; asking desks to reconnect")
			s.closeAll(closeServiceRst, "node was lost; reconnect", false)
		}
		return
	}
	s.board.apply(ev)
	if ev.Type == queue.EventAlert {
		s.keepAlert(ev)
		s.alert(ev)
		return
	}
	d := s.desk(ev.Agent)
	if d == nil {
		return
	}
	s.deliverTo(d, ev)
}

// deliverTo gives an event to a desk, or keeps it for the desk's greeting
// when the desk is not seated yet.
func (s *Server) deliverTo(d *desk, ev queue.Event) {
	d.evmu.Lock()
	defer d.evmu.Unlock()
	if !d.seated {
		if len(d.early) < maxEarly {
			d.early = append(d.early, ev)
		}
		return
	}
	s.deliver(d, ev)
}

// maxEarly bounds the events kept for a desk being seated; the greeting
// itself carries the agent's whole state, so losing some is not fatal.
const maxEarly = 1024

// deliver sends one event to a seated desk; d.evmu is held.
func (s *Server) deliver(d *desk, ev queue.Event) {
	self := s.q.NodeID()
	switch ev.Type {
	case queue.EventOffered:
		if ev.Node == self {
			d.sendOffer(ev.Contact, ev.Deadline)
		}
	case queue.EventAssigned:
		if ev.Node == self {
			d.forget(ev.TrackingNo, true)
			d.send(outbound{assigned: ev.Contact})
		}
	case queue.EventRescinded:
		d.forget(ev.TrackingNo, false)
		d.send(outbound{msg: rescindedMsg{Type: "rescinded", Contact: ev.TrackingNo, Reason: ev.Reason}})
	case queue.EventMessage:
		if ev.Node == self && ev.Message != nil {
			d.send(outbound{msg: messageMsg{Type: "message", Contact: ev.TrackingNo, Message: *ev.Message}})
		}
	case queue.EventEnded:
		// The talk is over (the caller hung up, or the desk's own end):
		// the contact waits for wrap-up.
		d.send(outbound{msg: endedMsg{Type: "ended", Contact: ev.TrackingNo, Reason: ev.Reason}})
	case queue.EventClosed:
		d.wrappedUp(ev.TrackingNo)
		d.send(outbound{msg: closedMsg{Type: "closed", Contact: ev.TrackingNo, Outcome: ev.Outcome}})
	case queue.EventTransferred:
		d.send(outbound{msg: transferredMsg{Type: "transferred", Contact: ev.TrackingNo, To: ev.Reason}})
	case queue.EventLineTransfer:
		if ev.Line != nil {
			d.send(outbound{msg: lineTransferMsg{Type: "line_transfer", Contact: ev.TrackingNo, LineStep: *ev.Line}})
		}
	case queue.EventRequeued:
		// The browser phone lost the call; it waits again at its old place.
		d.forget(ev.TrackingNo, false)
		d.send(outbound{msg: requeuedMsg{Type: "requeued", Contact: ev.TrackingNo, Reason: ev.Reason}})
	case queue.EventReplaced:
		if ev.Session == d.sess {
			d.shut(CloseReplaced, "replaced by a newer desk", false)
		}
		return
	}
	if ev.Status != nil && ev.Status.Presence == "logged_out" && ev.Session == "" && d.sess != "" && !d.loggingOut() &&
		s.wasForced(d.sess) {
		// A supervisor logged the agent out: the desk closes for good.
		d.log.Info("logged out by a supervisor")
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.tokens.revokeAgent(rctx, d.agent.ID, d.token()) // its other pages' too
		cancel()
		d.send(outbound{msg: stateMsg{Type: "state", AgentStatus: *ev.Status}})
		d.shut(CloseLoggedOut, "logged out by a supervisor", false)
		return
	}
	if ev.Status != nil && ev.Session == d.sess {
		d.send(outbound{msg: stateMsg{Type: "state", AgentStatus: *ev.Status}})
	}
}

// alert tells the supervisors' desks on this node of an emergency.
func (s *Server) alert(ev queue.Event) {
	s.mu.Lock()
	var sup []*desk
	for _, d := range s.desks {
		if d.agent.Supervisor {
			sup = append(sup, d)
		}
	}
	s.mu.Unlock()
	for _, d := range sup {
		d.send(outbound{msg: alertMsg{Type: "alert", Contact: ev.TrackingNo, Kind: ev.Reason, Text: ev.Text}})
	}
}

func (s *Server) closeAll(code int, reason string, unseat bool) {
	s.mu.Lock()
	desks := make([]*desk, 0, len(s.desks))
	for _, d := range s.desks {
		desks = append(desks, d)
	}
	s.mu.Unlock()
	for _, d := range desks {
		d.shut(code, reason, unseat)
	}
}

// Desks counts the desks connected to this node.
func (s *Server) Desks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.desks)
}

// Drain stops taking desks, tells every connected desk to reconnect to
// another node (close code 1001), returns their open offers to the queue and
// waits for the desks to go, or for ctx to end.
func (s *Server) Drain(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.closeAll(closeGoingAway, "node draining; reconnect", false)
	s.mu.Lock()
	for w := range s.walls {
		w.close() // the page reconnects, to another node
	}
	s.mu.Unlock()
	if err := s.q.Leave(ctx); err != nil {
		s.log.Warn("leave failed", zap.Error(err))
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
