package sip

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// reconcileEvery is how often the node compares the calls Redis says it
// holds with the calls it holds.
const reconcileEvery = 30 * time.Second

// reconcileCalls compares, every interval, the calls Redis says this node
// holds (calls:<node>) with the calls it holds. A call whose contact the
// node does not know (its answer was recorded but the reply lost) is given
// its contact. A contact whose call the node no longer holds — its hang-up,
// or a set-up's failure, never reached Redis — is handled, once it is found
// so twice in a row (a call being set up or ended is not taken for lost), as
// a dead node's call: a caller not yet answered by an agent becomes a
// callback, a talk ends. Without it such a contact stayed in the welcome's
// state (ivr), waiting or talking on a live node for good.
func (s *Server) reconcileCalls(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	suspects := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		suspects = s.reconcile(ctx, suspects)
	}
}

// reconcile is one pass of reconcileCalls: suspects are the contacts found
// without their call last time; it returns this pass's.
func (s *Server) reconcile(ctx context.Context, suspects map[string]bool) map[string]bool {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tns, err := s.q.Calls(rctx, s.q.NodeID())
	if err != nil {
		s.log.Warn("reconciling calls: cannot list this node's calls", zap.Error(err))
		return suspects
	}
	next := map[string]bool{}
	for _, tn := range tns {
		s.mu.Lock()
		held := s.byTN[tn] != nil
		s.mu.Unlock()
		if held {
			continue
		}
		id, err := s.q.CallID(rctx, tn)
		if err != nil {
			s.log.Warn("reconciling calls", zap.Error(err))
			next[tn] = suspects[tn]
			continue
		}
		s.mu.Lock()
		c := s.byCall[id]
		s.mu.Unlock()
		if c != nil && id != "" {
			if c.trackingNo() == "" {
				c.log.Info("the call's contact, made at its answer, found", zap.String("contact", tn))
				c.setContact(tn)
			}
			continue
		}
		if !suspects[tn] {
			next[tn] = true
			continue
		}
		lost, err := s.q.LoseCall(rctx, tn)
		switch {
		case err != nil:
			s.log.Warn("reconciling calls: a contact whose call is gone not handled", zap.String("contact", tn), zap.Error(err))
			next[tn] = true
		case lost:
			s.metrics.reconciled.Inc()
			s.log.Warn("a contact whose call this node no longer holds handled as a lost call (callback, or its talk ended)",
				zap.String("contact", tn))
		}
	}
	return next
}
