package sms

import (
	"context"
	"errors"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// rating takes a citizen's bare "1", "2" or "3" as the answer to the rating
// question sent after their last contact's wrap-up (channels.RatingQuestion):
// it rates that contact and opens no new one. rated is false when the text
// is no rating or no contact of theirs waits for one: it is then a message
// like any other. A redelivery (same provider id) rates nothing twice.
func (g *Gateway) rating(ctx context.Context, m inbound, addr, text string, log *zap.Logger) (queue.Receipt, bool, error) {
	r, ok := g.q.(channels.Rater)
	if !ok {
		return queue.Receipt{}, false, nil
	}
	score, ok := channels.ParseRatingReply(text)
	if !ok {
		return queue.Receipt{}, false, nil
	}
	tn, err := r.RateByReply(ctx, queue.ReplyKey(queue.ChannelSMS, addr), score, m.idem)
	switch {
	case errors.Is(err, queue.ErrNotFound), errors.Is(err, queue.ErrWrongState):
		return queue.Receipt{}, false, nil
	case err != nil:
		return queue.Receipt{}, false, err
	}
	log.Info("citizen rated a contact by SMS", zap.String("contact", tn), zap.Int("score", score))
	return queue.Receipt{TrackingNo: tn, Duplicate: true}, true, nil
}
