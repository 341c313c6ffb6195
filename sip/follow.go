package sip

import (
	"context"
	"time"

	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// follow reads the queue's events and hands each one about a call this
// node holds to that call: an offer rings the agent's phone, a rescinded
// offer stops it, the desk's end hangs up.
func (s *Server) follow(ctx context.Context) error {
	var pos string
	for ctx.Err() == nil {
		p, err := s.q.EventsPosition(ctx)
		if err == nil {
			pos = p
			break
		}
		s.log.Warn("event stream unavailable", zap.Error(err))
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return s.q.SubscribeFrom(ctx, pos, s.onEvent)
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
