package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/sms"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

const genericSecret = "0123456789abcdef-secret"

// pushSMS posts a signed generic SMS push and returns the answer.
func pushSMS(t *testing.T, base, id, text string) response {
	t.Helper()
	body, err := json.Marshal(sms.GenericSMS{ID: id, From: "13800138000", To: "12345", Text: text})
	require.NoError(t, err)
	ts := fmt.Sprint(time.Now().Unix())
	return do(t, http.MethodPost, base+"/channels/sms/generic", "application/json", body,
		sms.HeaderTimestamp, ts, sms.HeaderSignature, sms.Sign([]byte(genericSecret), ts, body))
}

// Issue 7, one intake path: SMS and WeChat go in through channels.Take as
// web letters and e-mail do. A provider that reuses a message id for other
// content sent another message (kept, not dropped as a duplicate); the same
// push again is a duplicate; a message that joins an open contact is
// acknowledged with channels.JoinedAck. Through the real listeners.
func TestOneIntakePathSMSAndWeChat(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	apiSrv := httptest.NewServer(&fakeWeChatAPI{})
	defer apiSrv.Close()
	n := startNode(t, s.URL, "node-a", wechatAccount(apiSrv.URL), func(c *configs.Config) {
		c.SMS.Generic = sms.Generic{Enabled: true, Secret: genericSecret}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	texts := func(tn string) []string {
		c, err := n.n.q.Contact(ctx, tn)
		require.NoError(t, err)
		out := []string{c.Text}
		msgs, err := n.n.q.Messages(ctx, tn)
		require.NoError(t, err)
		for _, m := range msgs {
			if m.From == queue.FromCitizen {
				out = append(out, m.Text)
			}
		}
		return out
	}

	t.Run("sms", func(t *testing.T) {
		first := pushSMS(t, n.base, "m-1", "小区停水三天了")
		require.Equal(t, http.StatusOK, first.Status, "%v", first.Body)
		tn := first.Body["tracking_no"].(string)
		require.Equal(t, channels.Ack(tn), first.Body["message"])
		again := pushSMS(t, n.base, "m-1", "小区停水三天了")
		require.Equal(t, true, again.Body["duplicate"], "the same push again")
		reused := pushSMS(t, n.base, "m-1", "而且水压很低")
		require.Equal(t, http.StatusOK, reused.Status)
		require.Equal(t, false, reused.Body["duplicate"], "a reused id with other content is another SMS")
		require.Equal(t, true, reused.Body["joined"])
		require.Equal(t, tn, reused.Body["tracking_no"])
		require.Equal(t, channels.JoinedAck(tn), reused.Body["message"])
		require.Equal(t, []string{"小区停水三天了", "而且水压很低"}, texts(tn))
		// and that one again is a duplicate too
		require.Equal(t, true, pushSMS(t, n.base, "m-1", "而且水压很低").Body["duplicate"])
		require.Equal(t, []string{"小区停水三天了", "而且水压很低"}, texts(tn))
	})

	t.Run("wechat", func(t *testing.T) {
		post := func(text, id string) (int, string) {
			st, body := postWeChat(t, n.base, text, id)
			var reply struct {
				Content string `xml:"Content"`
			}
			require.NoError(t, xml.Unmarshal([]byte(body), &reply), body)
			return st, reply.Content
		}
		st, body := post("路灯坏了一个月", "9001")
		require.Equal(t, http.StatusOK, st, body)
		tn := trackingIn(t, body)
		require.Contains(t, body, channels.Ack(tn))
		st, body = post("路灯坏了一个月", "9001")
		require.Equal(t, http.StatusOK, st, body)
		st, body = post("在建设路口", "9001")
		require.Equal(t, http.StatusOK, st, body)
		require.Contains(t, body, channels.JoinedAck(tn))
		st, body = post("还有一盏也坏了", "9002")
		require.Equal(t, http.StatusOK, st, body)
		require.Contains(t, body, channels.JoinedAck(tn))
		require.Equal(t, []string{"路灯坏了一个月", "在建设路口", "还有一盏也坏了"}, texts(tn))
	})
}

// trackingIn finds the tracking number in an acknowledgement.
func trackingIn(t *testing.T, s string) string {
	t.Helper()
	_, rest, ok := strings.Cut(s, "受理编号")
	require.True(t, ok, "no tracking number in %q", s)
	rest = strings.TrimLeft(rest, " ：:")
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	require.Positive(t, end, "no tracking number in %q", s)
	return rest[:end]
}
