package wechat_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/wechat"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestUnsubscribeEndsReplyWindow: once the citizen unfollows, an agent's
// reply is refused at once as outside the window (WeChat would not deliver
// it), on another node too; following again opens it as the citizen's last
// message allows, and the welcome tells them how to use the account.
func TestUnsubscribeEndsReplyWindow(t *testing.T) {
	s := queuetest.RedisServer(t)
	rdb := s.Client(t)
	a := newEnv(t, s, wechat.WithFollows(wechat.NewRedisFollows(rdb, "{lianxin}:")))
	b := newEnv(t, s, wechat.WithFollows(wechat.NewRedisFollows(rdb, "{lianxin}:"))) // another node
	ctx := context.Background()
	c := a.contactFrom(acctSafe)
	require.NoError(t, b.ch.Reply(ctx, c, "您好，请问具体地址是？"))

	resp, body := a.post(acctSafe, readFile(t, "messages/event_unsubscribe.xml"))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "success", body)
	sent := len(b.api.sentMessages())
	err := b.ch.Reply(ctx, c, "还需要帮助吗？")
	require.ErrorIs(t, err, channels.ErrReplyWindowClosed)
	require.ErrorContains(t, err, "unfollowed the account")
	require.Len(t, b.api.sentMessages(), sent, "nothing sent to WeChat")

	resp, body = b.post(acctSafe, readFile(t, "messages/event_subscribe.xml"))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	welcome := b.replyText(acctSafe, body)
	require.Equal(t, wechat.DefaultWelcome, welcome)
	require.Contains(t, welcome, "请直接发送文字")
	require.Contains(t, welcome, "受理编号")
	require.NoError(t, a.ch.Reply(ctx, c, "欢迎回来"), "following again: the last message is recent")

	// Unfollowing is remembered only as long as the window would last.
	resp, _ = a.post(acctSafe, readFile(t, "messages/event_unsubscribe.xml"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ttl, err := rdb.PTTL(ctx, "{lianxin}:wechat:left:"+acctSafe+":"+citizen).Result()
	require.NoError(t, err)
	require.InDelta(t, (48 * time.Hour).Seconds(), ttl.Seconds(), 60)
}

// TestUnsubscribeWithoutSharedStore: a channel without WithFollows
// remembers unfollows itself.
func TestUnsubscribeWithoutSharedStore(t *testing.T) {
	e := newEnv(t, queuetest.Miniredis(t))
	c := e.contactFrom(acctPlain)
	resp, body := e.post(acctPlain, readFile(t, "messages/event_unsubscribe.xml"))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.ErrorIs(t, e.ch.Reply(context.Background(), c, "您好"), channels.ErrReplyWindowClosed)
	resp, body = e.post(acctPlain, readFile(t, "messages/event_subscribe.xml"))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "欢迎关注！", e.replyText(acctPlain, body), "the account's own welcome")
	require.NoError(t, e.ch.Reply(context.Background(), c, "您好"))
}

// TestUnsubscribeRedisDown: an unfollow that cannot be recorded is
// answered 503, so WeChat sends it again.
func TestUnsubscribeRedisDown(t *testing.T) {
	s := queuetest.RedisServer(t)
	e := newEnv(t, s, wechat.WithFollows(wechat.NewRedisFollows(s.Client(t), "{lianxin}:")))
	s.Kill()
	resp, body := e.post(acctSafe, readFile(t, "messages/event_unsubscribe.xml"))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	require.Contains(t, body, "could not be recorded")
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
}
