package wechat_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

func textPush(from, text string, id int64) string {
	return fmt.Sprintf("<xml><ToUserName><![CDATA[gh_3f8a2b9c1d4e]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>"+
		"<CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d</MsgId></xml>",
		from, time.Now().Unix(), text, id)
}

// TestRatingReply: a follower asked for a rating after wrap-up answers "2":
// the contact is rated, the passive reply thanks them, no contact is
// opened; WeChat's redelivery of the same message rates nothing twice. With
// nothing to rate, "2" is a message like any other.
func TestRatingReply(t *testing.T) {
	rs := queuetest.RedisServer(t)
	e := newEnv(t, rs)
	keys := func() []string {
		ks, err := rs.Client(t).Keys(context.Background(), "{lianxin}:c:*").Result()
		require.NoError(t, err)
		return ks
	}
	ctx := context.Background()
	res, _ := e.post(acctPlain, textPush("oRater", "小区路灯坏了", 7001))
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.EqualValues(t, 1, e.calls.receives.Load())
	require.Len(t, keys(), 1)
	tn := keys()[0][len("{lianxin}:c:"):]
	_, err := e.q.AskRating(ctx, tn, queue.RatingAsk{Window: time.Hour, Reply: queue.ReplyKey(queue.ChannelWeChat, "oRater")})
	require.NoError(t, err)

	res, body := e.post(acctPlain, textPush("oRater", "2", 7002))
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, channels.RatingThanks, e.replyText(acctPlain, body))
	c, err := e.q.Contact(ctx, tn)
	require.NoError(t, err)
	require.Equal(t, "基本满意", c.Rating.Label)
	require.EqualValues(t, 1, e.calls.receives.Load(), "no contact opened")
	res, body = e.post(acctPlain, textPush("oRater", "2", 7002))
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, channels.RatingThanks, e.replyText(acctPlain, body), "a redelivery")
	require.Len(t, keys(), 1)

	res, _ = e.post(acctPlain, textPush("oOther", "2", 7003))
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.EqualValues(t, 2, e.calls.receives.Load(), "nothing to rate: a message")
}
