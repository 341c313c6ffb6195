package email

import (
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

var _ channels.Replier = (*Server)(nil)

// letterIn sends a corpus letter and returns its contact, once acknowledged.
func letterIn(t *testing.T, e *env, file string) *queue.Contact {
	t.Helper()
	data := corpus(t, file)
	require.NoError(t, send(t, e, "bounce@"+fromDomainOf(t, data), []string{boxAddr}, data))
	ack := ackOf(t, e.relay, msgIDOf(t, data))
	c, err := e.q.Contact(ctx(t), ack.TN)
	require.NoError(t, err)
	return c
}

func TestReply(t *testing.T) {
	e := start(t, queuetest.RedisServer(t), newFakeRelay(t), nil)
	c := letterIn(t, e, "gb2312-qp.eml")
	require.NoError(t, e.s.Reply(ctx(t), c, "张先生您好，已转交锦江区城管局维修路灯。"))
	r := waitMail(t, e.relay, func(o out) bool { return o.Auto == "" })
	require.Equal(t, "ZhangSan@Example.CN", r.To)
	require.Equal(t, "noreply@mail.12345.chengdu.gov.cn", r.From)
	require.Equal(t, "gb2312-qp.20250303091500@example.cn", r.InReplyTo, "threads under the citizen's letter")
	require.Equal(t, "Re: 路灯坏了（受理编号 "+c.TrackingNo+"）", r.Subject)
	require.Equal(t, c.TrackingNo, r.TN)
	require.True(t, strings.HasPrefix(r.Body, "张先生您好，已转交锦江区城管局维修路灯。"), r.Body)
	require.Contains(t, r.Body, "受理编号 "+c.TrackingNo)
}

func TestReplyErrors(t *testing.T) {
	relay := newFakeRelay(t)
	e := start(t, queuetest.Miniredis(t), relay, nil)
	c := letterIn(t, e, "utf8.eml")

	relay.mu.Lock()
	relay.rcptErr = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	relay.mu.Unlock()
	err := e.s.Reply(ctx(t), c, "您好")
	require.ErrorIs(t, err, channels.ErrReplyRejected)
	require.Contains(t, err.Error(), "no such user")

	web := &queue.Contact{TrackingNo: c.TrackingNo, Intake: queue.Intake{Channel: queue.ChannelMailbox,
		Citizen: queue.Citizen{Address: "+8613800138000", Phone: "+8613800138000"}}}
	require.ErrorIs(t, e.s.Reply(ctx(t), web, "您好"), channels.ErrNoReplyPath, "a web letter with a phone only")
	// The desk asks before the agent writes.
	require.NoError(t, e.s.CanReply(ctx(t), c))
	require.ErrorIs(t, e.s.CanReply(ctx(t), web), channels.ErrNoReplyPath)

	noRelay := start(t, queuetest.Miniredis(t), nil, nil)
	require.ErrorIs(t, noRelay.s.Reply(ctx(t), c, "您好"), channels.ErrNoReplyPath)
	require.ErrorIs(t, noRelay.s.CanReply(ctx(t), c), channels.ErrNoReplyPath)
}

// TestAckRetried: the relay says 451 twice; the acknowledgement goes out on
// the third try and the contact records it as sent.
func TestAckRetried(t *testing.T) {
	relay := newFakeRelay(t)
	relay.tempFail = 2
	e := start(t, queuetest.RedisServer(t), relay, nil)
	c := letterIn(t, e, "big5.eml")
	require.Len(t, relay.messages(), 1)
	e.stop() // the worker has recorded the status once it is stopped
	msgs, err := e.q.Messages(ctx(t), c.TrackingNo)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, queue.FromSystem, msgs[0].From)
	require.Equal(t, "sent", msgs[0].Status)
	require.Contains(t, msgs[0].Text, c.TrackingNo)
}

// TestAckOverStartTLS: with credentials, the relay is reached over
// STARTTLS and AUTH PLAIN.
func TestAckOverStartTLS(t *testing.T) {
	relay := newFakeRelay(t, withAuth("lianxin", "s3cret"))
	e := start(t, queuetest.Miniredis(t), relay, func(o *Options) {
		o.Relay.StartTLS, o.Relay.Username, o.Relay.Password = true, "lianxin", "s3cret"
	})
	letterIn(t, e, "utf8.eml")
	m := relay.messages()[0]
	require.True(t, m.TLS, "sent over TLS")
	require.Equal(t, "lianxin", m.User)
}

// TestNoRelay: without a relay letters are still taken; nothing is sent.
func TestNoRelay(t *testing.T) {
	e := start(t, queuetest.Miniredis(t), nil, nil)
	require.NoError(t, send(t, e, "a@example.cn", []string{boxAddr}, corpus(t, "utf8.eml")))
}
