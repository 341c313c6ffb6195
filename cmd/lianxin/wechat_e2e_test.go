package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/wechat"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// fakeWeChatAPI speaks the two calls of WeChat's API a reply needs: the
// access token and the customer-service message.
type fakeWeChatAPI struct {
	mu   sync.Mutex
	sent []map[string]any
}

func (f *fakeWeChatAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/cgi-bin/token":
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "TOKEN-1", "expires_in": 7200})
	case "/cgi-bin/message/custom/send":
		if r.URL.Query().Get("access_token") != "TOKEN-1" {
			_ = json.NewEncoder(w).Encode(map[string]any{"errcode": 40001, "errmsg": "invalid credential"})
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		f.sent = append(f.sent, body)
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"errcode": 0, "errmsg": "ok"})
	default:
		http.NotFound(w, r)
	}
}

// wechatAccount configures the plaintext test account against a fake API.
func wechatAccount(apiURL string) func(*configs.Config) {
	return func(c *configs.Config) {
		c.WeChat.APIBase = apiURL
		c.WeChat.Accounts = []wechat.Account{{ID: "cd12345", Name: "成都12345", Kind: "official", Mode: "plaintext",
			Token: "tok3n", AppID: "wx0123456789", AppSecret: "s3cret", Queue: "general"}}
	}
}

// postWeChat posts a signed text message from citizen oCitizen42 to the
// test account, as WeChat does, and returns the status and the answer.
func postWeChat(t *testing.T, base, text, msgID string) (int, string) {
	t.Helper()
	ts, nonce := fmt.Sprint(time.Now().Unix()), "n0nce"
	body := `<xml><ToUserName><![CDATA[gh_123]]></ToUserName><FromUserName><![CDATA[oCitizen42]]></FromUserName>` +
		`<CreateTime>` + ts + `</CreateTime><MsgType><![CDATA[text]]></MsgType>` +
		`<Content><![CDATA[` + text + `]]></Content><MsgId>` + msgID + `</MsgId></xml>`
	q := url.Values{"signature": {wechat.Signature("tok3n", ts, nonce)}, "timestamp": {ts}, "nonce": {nonce},
		"openid": {"oCitizen42"}}
	resp, err := http.Post(base+"/channels/wechat/cd12345?"+q.Encode(), "text/xml", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A WeChat message comes in through the real webhook (plaintext mode,
// signed), is offered to a desk, and the agent's reply goes out through the
// customer-service API.
func TestWeChatThroughTheDesk(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	api := &fakeWeChatAPI{}
	apiSrv := httptest.NewServer(api)
	defer apiSrv.Close()
	n := startNode(t, s.URL, "node-a", wechatAccount(apiSrv.URL))
	d := desk(t, n.base, "1001")
	send(t, d, "ready", nil)

	ts, nonce := fmt.Sprint(time.Now().Unix()), "n0nce"
	sig := wechat.Signature("tok3n", ts, nonce)
	body := `<xml><ToUserName><![CDATA[gh_123]]></ToUserName><FromUserName><![CDATA[oCitizen42]]></FromUserName>` +
		`<CreateTime>` + ts + `</CreateTime><MsgType><![CDATA[text]]></MsgType>` +
		`<Content><![CDATA[请问居住证怎么办理？]]></Content><MsgId>1234567890123456</MsgId></xml>`
	q := url.Values{"signature": {sig}, "timestamp": {ts}, "nonce": {nonce}, "openid": {"oCitizen42"}}
	post := func(sig string) (int, string) {
		q.Set("signature", sig)
		resp, err := http.Post(n.base+"/channels/wechat/cd12345?"+q.Encode(), "text/xml", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, answer := post("0000" + sig[4:])
	require.Equal(t, http.StatusUnauthorized, code, "a bad signature is refused: %s", answer)
	code, answer = post(sig)
	require.Equal(t, http.StatusOK, code, answer)
	var reply struct {
		Content string `xml:"Content"`
	}
	require.NoError(t, xml.Unmarshal([]byte(answer), &reply), answer)
	offer := next(t, d, "offer").Object()
	require.Contains(t, reply.Content, offer.TrackingNo, "the passive reply carries the tracking number")
	require.Equal(t, "wechat", offer.Channel)
	require.Equal(t, "请问居住证怎么办理？", offer.Text)

	// WeChat retries the same message: nothing new.
	code, _ = post(sig)
	require.Equal(t, http.StatusOK, code)

	send(t, d, "accept", map[string]any{"contact": offer.TrackingNo})
	send(t, d, "reply", map[string]any{"contact": offer.TrackingNo, "text": "请携带身份证到所在街道办理。"})
	m := next(t, d, "message")
	require.Contains(t, string(m.Raw), "请携带身份证到所在街道办理。")
	api.mu.Lock()
	require.Len(t, api.sent, 1)
	require.Equal(t, "oCitizen42", api.sent[0]["touser"])
	api.mu.Unlock()

	r := do(t, http.MethodGet, n.base+"/api/queues", "", nil, "Authorization", "Bearer "+loginToken(t, n.base, "1005")) // a supervisor
	require.Equal(t, http.StatusOK, r.Status)
	for _, qs := range r.Body["queues"].([]any) {
		require.EqualValues(t, 0, qs.(map[string]any)["waiting"], "the retry made no second contact")
	}
}
