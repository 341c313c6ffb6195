package wechat

import (
	"context"
	"errors"
	"net/http"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// rating takes a follower's bare "1", "2" or "3" as the answer to the
// rating question sent after their last contact's wrap-up: it rates that
// contact, opens no new one, and thanks them in the passive reply. It
// reports whether it rated, and (done) whether it answered WeChat already
// (a Redis failure: 503, WeChat sends again).
func (ch *Channel) rating(ctx context.Context, w http.ResponseWriter, a *account, m *Message, encrypted bool, p *push,
	log *zap.Logger) (rated, done bool) {
	r, ok := ch.q.(channels.Rater)
	if !ok || p.msgType != "text" {
		return false, false
	}
	score, ok := channels.ParseRatingReply(p.text)
	if !ok {
		return false, false
	}
	tn, err := r.RateByReply(ctx, queue.ReplyKey(queue.ChannelWeChat, p.from), score, p.idemKey)
	switch {
	case errors.Is(err, queue.ErrNotFound), errors.Is(err, queue.ErrWrongState):
		return false, false
	case err != nil:
		log.Warn("rating not stored; WeChat will try again", zap.Error(err))
		w.Header().Set("Retry-After", "5")
		refuse(w, http.StatusServiceUnavailable, "the message could not be stored; send it again")
		return false, true
	}
	log.Info("follower rated a contact", zap.String("contact", tn), zap.Int("score", score))
	ch.answer(w, a, m, encrypted, channels.RatingThanks)
	return true, true
}
