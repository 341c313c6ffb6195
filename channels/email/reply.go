package email

import (
	"context"
	"fmt"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

var _ channels.Replier = (*Server)(nil)

// CanReply reports whether a reply to c could go out: nil, or
// channels.ErrNoReplyPath when the citizen left no e-mail address or no
// outbound relay is configured.
func (s *Server) CanReply(_ context.Context, c *queue.Contact) error {
	if c.Citizen.Email == "" {
		return fmt.Errorf("%w: the citizen left no e-mail address", channels.ErrNoReplyPath)
	}
	if s.relay == nil {
		return fmt.Errorf("%w: no outbound mail relay is configured", channels.ErrNoReplyPath)
	}
	return nil
}

// replyAttempts is how many times a reply is tried while the agent waits.
const replyAttempts = 3

// Reply sends an agent's reply to the citizen's e-mail address through the
// relay: "Re: " and the letter's subject, the tracking number, In-Reply-To
// the citizen's last letter. It serves web letters that left an e-mail
// address too. Errors: channels.ErrNoReplyPath (no address, no relay),
// channels.ErrReplyRejected (the relay refused the recipient or message);
// anything else may work if the agent tries again.
func (s *Server) Reply(ctx context.Context, c *queue.Contact, text string) error {
	if err := s.CanReply(ctx, c); err != nil {
		return err
	}
	log := s.log.With(zap.String("contact", c.TrackingNo), zap.String("to", channels.MaskEmail(c.Citizen.Email)))
	var msgID string
	if s.threads != nil {
		id, err := s.threads.Get(ctx, c.TrackingNo)
		if err != nil {
			log.Warn("reply goes out without In-Reply-To", zap.Error(err))
		}
		msgID = id
	}
	msg, err := s.compose(replyFor(c, text, msgID))
	if err != nil {
		return err
	}
	wait := time.Second
	for try := 1; ; try++ {
		err = s.relay.send(ctx, c.Citizen.Email, msg)
		switch {
		case err == nil:
			log.Info("reply sent")
			return nil
		case permanent(err):
			log.Info("reply refused", zap.Error(err))
			return fmt.Errorf("%w: %v", channels.ErrReplyRejected, err)
		case try >= replyAttempts:
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}
