package sip

import (
	"context"
	"errors"
	"time"

	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// ratingWindow is how long after the talk a caller's key is taken as a
// rating: the prompt and its repeats fit well inside.
const ratingWindow = 5 * time.Minute

// rate asks the caller to rate the call once the agent has hung up: the
// talk ends in the queue first (the agent goes on to wrap-up), then the
// caller hears the rating prompt and presses 1, 2 or 3. A wrong key or
// none repeats the prompt (Rating.Retries); the caller hanging up ends it.
// It reports whether the caller rated.
func (c *call) rate() bool {
	s := c.s
	cfg := s.cfg.Rating
	tn := c.trackingNo()
	if !cfg.Enabled || tn == "" || c.ctx.Err() != nil || s.prompts.get(cfg.Prompt) == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	_, err := s.q.Hangup(ctx, tn, byAgent)
	cancel()
	if err != nil {
		c.log.Warn("talk end not recorded before the rating", zap.Error(err))
	}
	ctx, cancel = context.WithTimeout(c.ctx, 5*time.Second)
	first, err := s.q.AskRating(ctx, tn, queue.RatingAsk{Window: ratingWindow})
	cancel()
	if err != nil || !first {
		if err != nil {
			c.log.Warn("rating not asked", zap.Error(err))
		}
		return false
	}
	c.leg.Hold(nil)
	// Keys pressed while talking to the agent were for the agent.
	for len(c.digits) > 0 {
		<-c.digits
	}
	for try := 0; try <= cfg.Retries; try++ {
		d, ok := c.play(true, s.prompts.get(cfg.Prompt))
		if !ok {
			return false
		}
		if d == 0 {
			t := time.NewTimer(cfg.Timeout)
			select {
			case d = <-c.digits:
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
				return false
			}
			t.Stop()
		}
		score := int(d - '0')
		if queue.RatingLabels[score] == "" {
			continue
		}
		ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
		err := s.q.Rate(ctx, tn, score)
		cancel()
		if err != nil && !errors.Is(err, queue.ErrWrongState) {
			c.log.Warn("rating not stored", zap.Error(err))
			return false
		}
		s.metrics.ivr.ratings.WithLabelValues(queue.RatingLabels[score]).Inc()
		c.log.Info("caller rated the call", zap.Int("score", score))
		c.play(false, s.prompts.get(cfg.Thanks))
		return true
	}
	return false
}
