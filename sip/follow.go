package sip

import (
	"context"

	"github.com/lianxin/lianxin/queue"
)

// follow reads the queue's events and hands each one about a call this
// node holds to that call: an offer rings the agent's phone, a rescinded
// offer stops it, the desk's end hangs up.
func (s *Server) follow(ctx context.Context) error {
	// The node's one reader of the stream, shared with the desks' hub.
	return s.q.SubscribeShared(ctx, nil, s.onEvent)
}

func (s *Server) onEvent(ev queue.Event) {
	switch ev.Type {
	case queue.EventOffered, queue.EventRescinded, queue.EventEnded, queue.EventClosed, queue.EventTransferred,
		queue.EventRequeued:
	case queue.EventAssigned:
		s.onAssigned(ev) // a callback accepted at a desk of this node
		return
	default:
		return
	}
	s.mu.Lock()
	c := s.byTN[ev.TrackingNo]
	s.mu.Unlock()
	if c != nil {
		c.event(ev)
	}
}
