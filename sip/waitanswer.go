package sip

import (
	"context"
	"fmt"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// waitAnswer waits for the answer to an INVITE sent on dlg; provisional is
// called on each 1xx past 100 (a CANCEL can be sent from then on). Ending
// ctx gives up the way sipgo does it (a CANCEL, or no CANCEL with
// sipgo.WaitAnswerForceCancelErr as its cause).
//
// sipgo v1.7.3 (the newest) panics in that CANCEL when the CANCEL's
// transaction ends without an error: Terminate closes the transaction's
// done channel before it stores its error, so DialogClientSession.Do can
// return (nil, nil) and inviteCancel reads the nil response's status. The
// transaction layer's Close terminates every transaction that way, so a
// node stopping while a phone rang crashed (seen in CI). The panic is taken
// back here as an error: the CANCEL was sent, its transaction is gone, and
// the ringing is over either way.
func waitAnswer(ctx context.Context, dlg *sipgo.DialogClientSession, provisional func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sip: giving up the INVITE's answer: sipgo panicked: %v", r)
		}
	}()
	return dlg.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(r *sip.Response) error {
		if provisional != nil && r.IsProvisional() && r.StatusCode > 100 {
			provisional()
		}
		return nil
	}})
}

// ringersGrace bounds how long a stopping node waits for the phones it
// gives up ringing to take their CANCELs before its SIP stack closes.
const ringersGrace = 5 * time.Second

// goRing runs f, an outgoing INVITE's ringing, unless the node is stopping;
// Run waits (at most ringersGrace) for those still running before it closes
// the SIP stack under them.
func (s *Server) goRing(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stopping:
		return false
	default:
	}
	s.ringers.Add(1)
	go func() {
		defer s.ringers.Done()
		f()
	}()
	return true
}

// waitRingers waits for the ringings goRing started, at most ringersGrace.
func (s *Server) waitRingers() {
	done := make(chan struct{})
	go func() {
		s.ringers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(ringersGrace):
		s.log.Warn("stopping with phones still ringing: their CANCELs are cut short")
	}
}
