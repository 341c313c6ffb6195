package wechat_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/wechat"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

var trackingNo = regexp.MustCompile(`受理编号 (\d+)`)

func tnOf(t *testing.T, text string) string {
	t.Helper()
	m := trackingNo.FindStringSubmatch(text)
	require.NotNil(t, m, "no tracking number in %q", text)
	return m[1]
}

func TestURLVerification(t *testing.T) {
	e := newEnv(t, queuetest.Miniredis(t))
	get := func(account string, q url.Values) (int, string) {
		resp, err := http.Get(e.srv.URL + "/channels/wechat/" + account + "?" + q.Encode())
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	sig := wechat.Signature(mpToken, "1409735669", "1320562132")
	for _, acct := range []string{acctSafe, acctCompat} {
		code, body := get(acct, url.Values{"signature": {sig}, "timestamp": {"1409735669"}, "nonce": {"1320562132"},
			"echostr": {"5837397520665436492"}})
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, "5837397520665436492", body)
	}
	code, body := get(acctSafe, url.Values{"signature": {sig}, "timestamp": {"1409735670"}, "nonce": {"1320562132"},
		"echostr": {"5837397520665436492"}})
	require.Equal(t, http.StatusUnauthorized, code)
	require.Contains(t, body, "signature does not match")

	// WeCom's published sample: decrypt the echostr and answer its plaintext.
	code, body = get(acctWeCom, url.Values{"msg_signature": {wcVerifySig}, "timestamp": {wcVerifyTS},
		"nonce": {wcVerifyNon}, "echostr": {wcEchoStr}})
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "1288432023552776189", body)
	code, body = get(acctWeCom, url.Values{"msg_signature": {strings.Replace(wcVerifySig, "0", "1", 1)},
		"timestamp": {wcVerifyTS}, "nonce": {wcVerifyNon}, "echostr": {wcEchoStr}})
	require.Equal(t, http.StatusUnauthorized, code)
	require.Contains(t, body, "msg_signature does not match")

	code, body = get("nosuch", url.Values{"echostr": {"1"}})
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, body, `no WeChat account \"nosuch\"`)
	require.Contains(t, body, `"error":"unknown_account"`)
	code, body = get(acctSafe, url.Values{"signature": {sig}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "echostr")
}

// The official sample push, as WeChat sends it in compatible mode, and the
// WeCom sample push, each become a contact and get an encrypted reply with
// the tracking number.
func TestPublishedSamplePushes(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		q := url.Values{"signature": {wechat.Signature(mpToken, mpTimestamp, mpNonce)}, "timestamp": {mpTimestamp},
			"nonce": {mpNonce}, "encrypt_type": {"aes"}, "msg_signature": {mpMsgSig}, "openid": {"oyORnuP8q7ou2gfYjqLzSIWZf0rs"}}
		resp, body := e.postRaw(acctCompat, q, mpBody)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		tn := tnOf(t, e.replyText(acctCompat, body))
		c, err := e.q.Contact(context.Background(), tn)
		require.NoError(t, err)
		require.Equal(t, "abcdteT", c.Text)
		require.Equal(t, "oyORnuP8q7ou2gfYjqLzSIWZf0rs", c.Citizen.Address)
		require.Equal(t, acctCompat, c.Line)
		require.Equal(t, queue.ChannelWeChat, c.Channel)

		q = url.Values{"msg_signature": {wcMsgSig}, "timestamp": {wcMsgTS}, "nonce": {wcMsgNonce}}
		resp, body = e.postRaw(acctWeCom, q, wcBody)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		tn = tnOf(t, e.replyText(acctWeCom, body))
		c, err = e.q.Contact(context.Background(), tn)
		require.NoError(t, err)
		require.Equal(t, "你好", c.Text)
		require.Equal(t, "ChenJiaShun", c.Citizen.Address)
		require.Equal(t, "enterprise", c.Queue)
	})
}

func TestTamperedPushIsRefused(t *testing.T) {
	e := newEnv(t, queuetest.Miniredis(t))
	q := url.Values{"signature": {wechat.Signature(mpToken, mpTimestamp, mpNonce)}, "timestamp": {mpTimestamp},
		"nonce": {mpNonce}, "encrypt_type": {"aes"}, "msg_signature": {mpMsgSig}}
	tampered := strings.Replace(mpBody, "hyzAe4Oz", "hyzAe4Oy", 1)
	resp, body := e.postRaw(acctSafe, q, tampered)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, body, "msg_signature does not match")

	q.Set("msg_signature", "5d197aaffba7e9b25a30732f161a50dee96bd5fb")
	resp, body = e.postRaw(acctSafe, q, mpBody)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)

	plain := readFile(t, "messages/text.xml")
	resp, body = e.postRaw(acctPlain, url.Values{"signature": {wechat.Signature("wrong", "1", "2")}, "timestamp": {"1"},
		"nonce": {"2"}}, plain)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, body, "signature does not match")

	// A push signed for one WeCom app is no good for the official account.
	resp, _ = e.postRaw(acctSafe, url.Values{"msg_signature": {wcMsgSig}, "timestamp": {wcMsgTS}, "nonce": {wcMsgNonce},
		"encrypt_type": {"aes"}}, wcBody)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Zero(t, e.calls.receives.Load(), "a refused push never reaches the queue")
}

func TestBadPushes(t *testing.T) {
	e := newEnv(t, queuetest.Miniredis(t))
	for name, want := range map[string]string{
		"truncated.xml": "body: not WeChat XML", "wrong_root.xml": "expected element type <xml>",
		"bad_createtime.xml": "CreateTime", "no_msgid.xml": "MsgId: is required", "bad_openid.xml": "FromUserName",
		"bad_latitude.xml": "Location_X", "image_no_mediaid.xml": "MediaId: is required",
		"event_no_event.xml": "Event: is required", "two_roots.xml": "second element", "entity.xml": "body",
	} {
		for _, acct := range []string{acctPlain, acctSafe} {
			resp, body := e.post(acct, readFile(t, "invalid/"+name))
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %s: %s", acct, name, body)
			require.Contains(t, body, want, name)
		}
	}
	resp, body := e.post(acctPlain, "<xml>"+strings.Repeat("<a>x</a>", 10000)+"</xml>")
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.Contains(t, body, "larger than 65536 bytes")
	resp, body = e.post("nosuch", readFile(t, "messages/text.xml"))
	require.Equal(t, http.StatusNotFound, resp.StatusCode, body)
	require.Zero(t, e.calls.receives.Load())
}

func TestRedisDownMeansWeChatRetries(t *testing.T) {
	s := queuetest.RedisServer(t)
	e := newEnv(t, s)
	msg := readFile(t, "messages/text.xml")
	s.Kill()
	resp, body := e.post(acctSafe, msg)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "not \"success\": WeChat must try again")
	require.NotEqual(t, "success", body)
	require.Contains(t, body, "could not be stored")
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
}

func TestEmergencyRaisesPriorityAndAlerts(t *testing.T) {
	s := queuetest.Miniredis(t)
	e := newEnv(t, s)
	msg := strings.Replace(readFile(t, "messages/text.xml"), "请问武侯区哪里可以办理居住证？", "楼下着火了，浓烟很大", 1)
	resp, body := e.post(acctSafe, msg)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	text := e.replyText(acctSafe, body)
	require.Contains(t, text, channels.EmergencyAdvice(channels.EmergencyFire))
	ctx := context.Background()
	c, err := e.q.Contact(ctx, tnOf(t, text))
	require.NoError(t, err)
	require.Equal(t, channels.EmergencyPriority, c.Priority)
	require.Equal(t, channels.EmergencyFire, c.Emergency, "the kind is kept for the desk")
	evs, err := s.Client(t).XRange(ctx, "{lianxin}:events", "-", "+").Result()
	require.NoError(t, err)
	alerts := 0
	for _, ev := range evs {
		if ev.Values["type"] == string(queue.EventAlert) {
			alerts++
			require.Equal(t, c.TrackingNo, ev.Values["contact"])
			require.Equal(t, channels.EmergencyFire, ev.Values["reason"])
		}
	}
	require.Equal(t, 1, alerts)
}
