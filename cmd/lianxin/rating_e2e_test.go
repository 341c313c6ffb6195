package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lianxin/lianxin/channels/sms/smpp"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestSMSRating: after the agent wraps up an SMS contact the citizen gets
// the rating question (submit_sm over the real SMPP bind); they answer "3"
// (deliver_sm, the real SMS intake): their contact is rated 不满意 — on the
// contact and in the public lookup — and no new contact is opened, nor
// offered to the ready agent. A redelivery of the same answer changes
// nothing.
func TestSMSRating(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n, sess, ctx := smppNode(t, s.URL)
	d := desk(t, n.base, "1001")
	send(t, d, "ready", nil)
	from := smpp.Address{TON: 1, NPI: 1, Addr: "8613800138000"}
	st, err := sess.Deliver(ctx, &smpp.SM{Source: from, Dest: smpp.Address{Addr: "12345"}, DataCoding: 0x08,
		ShortMessage: smpp.EncodeUCS2("路灯坏了一个星期了。")})
	require.NoError(t, err)
	require.EqualValues(t, 0, st)
	offer := next(t, d, "offer").Object()
	<-sess.Submits // the acknowledgement
	send(t, d, "accept", map[string]any{"contact": offer.TrackingNo})
	send(t, d, "wrapup", map[string]any{"contact": offer.TrackingNo, "request_type": "help", "outcome": "dispatched"})

	select {
	case sub := <-sess.Submits:
		text, err := smpp.Decode(sub.SM.DataCoding, smpp.AlphabetGSM7, sub.SM.ShortMessage)
		require.NoError(t, err)
		require.Contains(t, text, "不满意请回复3")
		require.Contains(t, sub.SM.Dest.Addr, "13800138000")
	case <-ctx.Done():
		t.Fatal("no rating question")
	}

	rdb := s.Client(t)
	before, err := rdb.Keys(ctx, "{lianxin}:c:*").Result()
	require.NoError(t, err)
	answer := &smpp.SM{Source: from, Dest: smpp.Address{Addr: "12345"}, DataCoding: 0x08, ShortMessage: smpp.EncodeUCS2("3")}
	st, err = sess.Deliver(ctx, answer)
	require.NoError(t, err)
	require.EqualValues(t, 0, st, "the answer is acknowledged")
	c, err := n.n.q.Contact(ctx, offer.TrackingNo)
	require.NoError(t, err)
	require.NotNil(t, c.Rating, "rated")
	require.Equal(t, 3, c.Rating.Score)
	require.Equal(t, "不满意", c.Rating.Label)
	after, err := rdb.Keys(ctx, "{lianxin}:c:*").Result()
	require.NoError(t, err)
	require.ElementsMatch(t, before, after, "no new contact")

	// The public lookup shows it.
	r := do(t, http.MethodGet, n.base+"/api/contacts/"+offer.TrackingNo+"?phone_last4=8000", "", nil)
	require.Equal(t, http.StatusOK, r.Status)
	rating := r.Body["rating"].(map[string]any)
	require.Equal(t, "不满意", rating["label"])
	require.EqualValues(t, 3, rating["score"])

	// The same answer delivered again (the SMS centre's retry) rates nothing
	// twice and opens nothing.
	st, err = sess.Deliver(ctx, answer)
	require.NoError(t, err)
	require.EqualValues(t, 0, st)
	after, err = rdb.Keys(ctx, "{lianxin}:c:*").Result()
	require.NoError(t, err)
	require.ElementsMatch(t, before, after, "no new contact")
	c, err = n.n.q.Contact(ctx, offer.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, 3, c.Rating.Score)
}

// TestLetterRatingLink: a web letter left a phone number but no e-mail;
// after wrap-up its citizen gets the rating link by SMS (over the SMPP
// bind). Following it on this node shows the page; answering 满意 rates
// the letter once.
func TestLetterRatingLink(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n, sess, ctx := smppNode(t, s.URL, func(c *configs.Config) { c.Rating.PublicURL = "https://12345.example.gov.cn/" })
	d := desk(t, n.base, "1001")
	send(t, d, "ready", nil)
	tn := letter(t, n.base, mailboxFor(t, "general"), "路灯不亮")
	require.Equal(t, tn, next(t, d, "offer").Object().TrackingNo)
	send(t, d, "accept", map[string]any{"contact": tn})
	send(t, d, "wrapup", map[string]any{"contact": tn, "request_type": "help", "outcome": "dispatched"})

	// The question is long: it comes in concatenated parts (UDH).
	var link string
	parts := map[int]string{}
	for link == "" {
		select {
		case sub := <-sess.Submits:
			ud, total, seq := sub.SM.ShortMessage, 1, 1
			if sub.SM.ESMClass&0x40 != 0 {
				c, rest, err := smpp.SplitUDH(ud)
				require.NoError(t, err)
				ud, total, seq = rest, c.Total, c.Seq
			}
			text, err := smpp.Decode(sub.SM.DataCoding, smpp.AlphabetGSM7, ud)
			require.NoError(t, err)
			parts[seq] = text
			if len(parts) < total {
				continue
			}
			whole := ""
			for i := 1; i <= total; i++ {
				whole += parts[i]
			}
			parts = map[int]string{}
			if i := strings.Index(whole, "https://12345.example.gov.cn/rate/"); i >= 0 {
				require.Contains(t, whole, tn)
				link = strings.TrimSpace(whole[i:])
			}
		case <-ctx.Done():
			t.Fatal("no SMS with the rating link")
		}
	}
	local := strings.Replace(link, "https://12345.example.gov.cn", n.base, 1)
	res, err := http.Get(local)
	require.NoError(t, err)
	page, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(page), "请对本次服务进行评价")
	res, err = http.PostForm(local, url.Values{"score": {"1"}})
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)
	c, err := n.n.q.Contact(ctx, tn)
	require.NoError(t, err)
	require.Equal(t, "满意", c.Rating.Label)
	res, err = http.PostForm(local, url.Values{"score": {"3"}})
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusNotFound, res.StatusCode, "the link is spent")
}
