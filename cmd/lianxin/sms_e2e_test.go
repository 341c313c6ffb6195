package main

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/sms/smpp"
	"github.com/lianxin/lianxin/channels/sms/smpp/smsctest"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// A citizen's SMS arrives from an SMS centre over a real SMPP bind, in
// UCS-2; the desk is offered it, and the agent's reply goes back to the
// centre as submit_sm to the citizen's number.
func TestSMSThroughTheDesk(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n, sess, ctx := smppNode(t, s.URL)
	d := desk(t, n.base, "1001")
	send(t, d, "ready", nil)

	st, err := sess.Deliver(ctx, &smpp.SM{Source: smpp.Address{TON: 1, NPI: 1, Addr: "8613800138000"},
		Dest: smpp.Address{Addr: "12345"}, DataCoding: 0x08, ShortMessage: smpp.EncodeUCS2("小区停水三天了，请问什么时候恢复？")})
	require.NoError(t, err)
	require.EqualValues(t, 0, st, "deliver_sm_resp OK once the contact is stored")

	offer := next(t, d, "offer").Object()
	require.Equal(t, "sms", offer.Channel)
	require.Equal(t, "小区停水三天了，请问什么时候恢复？", offer.Text)
	// The acknowledgement SMS with the tracking number went out first.
	ack := <-sess.Submits
	require.Equal(t, "8613800138000", ack.SM.Dest.Addr[len(ack.SM.Dest.Addr)-13:])

	send(t, d, "accept", map[string]any{"contact": offer.TrackingNo})
	send(t, d, "reply", map[string]any{"contact": offer.TrackingNo, "text": "已联系自来水公司，预计今晚恢复。"})
	select {
	case sub := <-sess.Submits:
		require.Contains(t, sub.SM.Dest.Addr, "13800138000")
		text, err := smpp.Decode(sub.SM.DataCoding, smpp.AlphabetGSM7, sub.SM.ShortMessage)
		require.NoError(t, err)
		require.Contains(t, text, "已联系自来水公司")
	case <-ctx.Done():
		t.Fatal("no submit_sm for the reply")
	}
}

// smppNode starts a node bound over SMPP to a simulated SMS centre (with mod
// applied to its config) and opens the centre's session for delivering the
// citizens' messages; ctx bounds the test's waits on that session.
func smppNode(t *testing.T, redisURL string, mod ...func(*configs.Config)) (*testNode, *smsctest.Session, context.Context) {
	t.Helper()
	smsc := smsctest.Start(t, smsctest.Options{SystemID: "lianxin", Password: "pw"})
	n := startNode(t, redisURL, "node-a", func(c *configs.Config) {
		c.SMS.SMPP.Enabled = true
		c.SMS.SMPP.Addr = smsc.Addr
		c.SMS.SMPP.SystemID = "lianxin"
		c.SMS.SMPP.Password = "pw"
		for _, m := range mod {
			m(c)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	sess, err := smsc.Session(ctx)
	require.NoError(t, err)
	return n, sess, ctx
}
