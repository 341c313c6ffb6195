package wechat_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// contactFrom posts the text sample to account and returns its contact.
func (e *env) contactFrom(account string) *queue.Contact {
	e.t.Helper()
	resp, body := e.post(account, readFile(e.t, "messages/text.xml"))
	require.Equal(e.t, http.StatusOK, resp.StatusCode, body)
	m := trackingNo.FindStringSubmatch(e.replyText(account, body))
	require.NotNil(e.t, m)
	c, err := e.q.Contact(context.Background(), m[1])
	require.NoError(e.t, err)
	return c
}

func TestReplyThroughCustomerServiceAPI(t *testing.T) {
	e := newEnv(t, queuetest.Miniredis(t))
	ctx := context.Background()
	c := e.contactFrom(acctSafe)
	require.NoError(t, e.ch.Reply(ctx, c, "您好，居住证可在武侯区政务服务中心办理。"))
	require.NoError(t, e.ch.Reply(ctx, c, "请携带身份证。"))
	require.Equal(t, 1, e.api.issuedTokens(), "the access token is cached")

	e.api.expireTokens()
	require.NoError(t, e.ch.Reply(ctx, c, "办理时间为工作日。"), "42001: fetch a new token and send again")
	require.Equal(t, 2, e.api.issuedTokens())

	e.api.answerNext(-1, -502)
	require.NoError(t, e.ch.Reply(ctx, c, "系统繁忙后重试。"), "busy and HTTP 502 are tried again")

	sent := e.api.sentMessages()
	require.Len(t, sent, 4)
	require.Equal(t, citizen, sent[0].ToUser)
	require.Equal(t, "/cgi-bin/message/custom/send", sent[0].Path)
	require.Equal(t, "系统繁忙后重试。", sent[3].Content)
}

func TestReplyErrorsTheAgentSees(t *testing.T) {
	e := newEnv(t, queuetest.Miniredis(t))
	ctx := context.Background()
	c := e.contactFrom(acctSafe)
	for code, want := range map[int]error{
		45015: channels.ErrReplyWindowClosed, 45047: channels.ErrReplyWindowClosed,
		43004: channels.ErrReplyRejected, 40003: channels.ErrReplyRejected, 45002: channels.ErrReplyRejected,
	} {
		e.api.answerNext(code)
		err := e.ch.Reply(ctx, c, "您好")
		require.ErrorIs(t, err, want, "errcode %d", code)
	}
	e.api.answerNext(-1, -1, -1, -1)
	err := e.ch.Reply(ctx, c, "您好")
	require.Error(t, err, "busy on every attempt")
	require.NotErrorIs(t, err, channels.ErrReplyRejected)
	require.Contains(t, err.Error(), "try again later")
	require.Empty(t, e.api.sentMessages())

	other := *c
	other.Citizen.Address = ""
	require.ErrorIs(t, e.ch.Reply(ctx, &other, "您好"), channels.ErrNoReplyPath)
	require.ErrorIs(t, e.ch.CanReply(ctx, &other), channels.ErrNoReplyPath)
	other = *c
	other.Line = "gone"
	require.ErrorIs(t, e.ch.Reply(ctx, &other, "您好"), channels.ErrNoReplyPath)
	require.ErrorIs(t, e.ch.CanReply(ctx, &other), channels.ErrNoReplyPath)
}

// By our own record: 48 hours after the citizen's last message the reply
// is refused without asking WeChat; a new message opens the window again.
func TestReplyWindowByOurRecord(t *testing.T) {
	e := newEnv(t, queuetest.Miniredis(t))
	ctx := context.Background()
	c := e.contactFrom(acctSafe)
	e.skew.Store(int64(47 * time.Hour))
	require.NoError(t, e.ch.CanReply(ctx, c), "the desk shows the reply box")
	require.NoError(t, e.ch.Reply(ctx, c, "还在处理中"))
	e.skew.Store(int64(49 * time.Hour))
	require.ErrorIs(t, e.ch.CanReply(ctx, c), channels.ErrReplyWindowClosed, "the desk says why it cannot reply")
	err := e.ch.Reply(ctx, c, "处理结果如下")
	require.ErrorIs(t, err, channels.ErrReplyWindowClosed)
	require.Contains(t, err.Error(), "last wrote")
	require.Len(t, e.api.sentMessages(), 1, "no call to WeChat for a closed window")

	resp, body := e.post(acctSafe, readFile(t, "messages/image.xml")) // the citizen writes again, 49 h later
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.NoError(t, e.ch.Reply(ctx, c, "处理结果如下"))
}

func TestReplyWeCom(t *testing.T) {
	e := newEnv(t, queuetest.Miniredis(t))
	c := &queue.Contact{TrackingNo: "2611260000017", Intake: queue.Intake{Channel: queue.ChannelWeChat, Line: acctWeCom,
		Citizen: queue.Citizen{Address: "ZhangSan"}, ReceivedAt: time.Now().Add(-100 * time.Hour)}}
	require.NoError(t, e.ch.Reply(context.Background(), c, "您好，已转相关部门。"), "WeCom has no 48-hour window")
	sent := e.api.sentMessages()
	require.Len(t, sent, 1)
	require.Equal(t, "/cgi-bin/message/send", sent[0].Path)
	require.Equal(t, wcAgentID, sent[0].AgentID)
	require.Equal(t, "ZhangSan", sent[0].ToUser)
}
