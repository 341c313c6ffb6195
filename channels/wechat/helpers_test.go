package wechat_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/channels/wechat"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// Accounts of the tests: the official sample's keys in safe and compatible
// mode, a plaintext account, and the WeCom sample's app.
const (
	acctSafe   = "cd12345"
	acctCompat = "cd12345-compat"
	acctPlain  = "cd12345-plain"
	acctWeCom  = "cd12345-wecom"
	plainToken = "plaintoken"
	wcAgentID  = 1000002
)

type env struct {
	t     testing.TB
	ch    *wechat.Channel
	q     *queue.Queue
	api   *fakeAPI
	blobs *blobstore.Dir
	srv   *httptest.Server // the callback URL, on a real socket
	calls *countingQueue
	skew  atomic.Int64 // added to the channel's clock, in ns
}

// countingQueue counts Receive calls, to show refused pushes never reach
// the queue.
type countingQueue struct {
	*queue.Queue
	receives atomic.Int64
}

func (c *countingQueue) Receive(ctx context.Context, in queue.Intake, key string) (queue.Receipt, error) {
	c.receives.Add(1)
	return c.Queue.Receive(ctx, in, key)
}

func testConfig(apiBase string) wechat.Config {
	return wechat.Config{
		APIBase: apiBase, WeComAPIBase: apiBase, Backoff: time.Millisecond, APITimeout: 10 * time.Second,
		Accounts: []wechat.Account{
			{ID: acctSafe, Name: "成都12345", Mode: wechat.ModeSafe, Token: mpToken, AppID: mpAppID, AppSecret: "mp-secret",
				EncodingAESKey: mpAESKey, Queue: "general"},
			{ID: acctCompat, Mode: wechat.ModeCompatible, Token: mpToken, AppID: mpAppID, AppSecret: "mp-secret",
				EncodingAESKey: mpAESKey, Queue: "general"},
			{ID: acctPlain, Mode: wechat.ModePlaintext, Token: plainToken, AppID: "wxplain0000000001", AppSecret: "plain-secret",
				Queue: "general", Welcome: "欢迎关注！"},
			{ID: acctWeCom, Kind: wechat.KindWeCom, Token: wcToken, AppID: wcCorpID, AppSecret: "wc-secret",
				AgentID: wcAgentID, EncodingAESKey: wcAESKey, Queue: "enterprise"},
		},
	}
}

// newEnv serves the channel on a real socket, over a real queue on s;
// opts come after the env's own options.
func newEnv(t testing.TB, s *queuetest.Server, opts ...wechat.Option) *env {
	t.Helper()
	e := &env{t: t, api: newFakeAPI(t)}
	e.api.apps[mpAppID] = "mp-secret"
	e.api.apps["wxplain0000000001"] = "plain-secret"
	e.api.apps[wcCorpID] = "wc-secret"
	q, err := queue.New(s.Client(t), queue.Options{NodeID: "t", Queues: []queue.Def{{Name: "general"}, {Name: "enterprise", Priority: 5}}})
	require.NoError(t, err)
	e.q = q
	e.calls = &countingQueue{Queue: q}
	e.blobs, err = blobstore.NewDir(t.TempDir())
	require.NoError(t, err)
	log := zap.NewNop() // fuzz targets must not log through f; benchmarks measure the channel
	if _, test := t.(*testing.T); test {
		log = zaptest.NewLogger(t)
	}
	e.ch, err = wechat.New(testConfig(e.api.URL), log, e.calls, e.blobs, append([]wechat.Option{
		wechat.WithClock(func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }),
		wechat.WithMediaOutbox(q.Outbox("wechat-media"))}, opts...)...)
	require.NoError(t, err)
	mux := http.NewServeMux()
	e.ch.Register(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// run starts the channel's background work until the test ends.
func (e *env) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.ch.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		require.NoError(e.t, <-done)
	})
}

func (e *env) crypter(account string) *wechat.Crypter {
	var c *wechat.Crypter
	var err error
	if account == acctWeCom {
		c, err = wechat.NewCrypter(wcToken, wcAESKey, "", wcCorpID)
	} else {
		c, err = wechat.NewCrypter(mpToken, mpAESKey, "", mpAppID)
	}
	require.NoError(e.t, err)
	return c
}

// post sends a push as WeChat would for the account's mode: signed
// plaintext, or encrypted with msg_signature.
func (e *env) post(account, msg string) (*http.Response, string) {
	ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), "1320562132"
	q := url.Values{"timestamp": {ts}, "nonce": {nonce}}
	body := msg
	switch account {
	case acctPlain:
		q.Set("signature", wechat.Signature(plainToken, ts, nonce))
	default:
		c := e.crypter(account)
		enc := c.Encrypt([]byte(msg), [16]byte([]byte("0123456789abcdef")))
		body = "<xml><ToUserName><![CDATA[gh_3f8a2b9c1d4e]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>"
		q.Set("msg_signature", c.Sign(ts, nonce, enc))
		if account != acctWeCom {
			q.Set("signature", c.Sign(ts, nonce))
			q.Set("encrypt_type", "aes")
			q.Set("openid", "oCitizen")
		}
	}
	return e.postRaw(account, q, body)
}

func (e *env) postRaw(account string, q url.Values, body string) (*http.Response, string) {
	resp, err := http.Post(e.srv.URL+"/channels/wechat/"+account+"?"+q.Encode(), "text/xml", bytes.NewBufferString(body))
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, string(b)
}

// replyText opens a passive reply (decrypting it for encrypted accounts)
// and returns its Content.
func (e *env) replyText(account, body string) string {
	e.t.Helper()
	if body == "success" {
		return ""
	}
	var r struct {
		Encrypt, MsgSignature, TimeStamp, Nonce string
		ToUserName, FromUserName, MsgType       string
		Content                                 string
	}
	require.NoError(e.t, xml.Unmarshal([]byte(body), &r), body)
	if account != acctPlain {
		c := e.crypter(account)
		require.True(e.t, c.Verify(r.MsgSignature, r.TimeStamp, r.Nonce, r.Encrypt), "the reply's MsgSignature")
		plain, err := c.Decrypt(r.Encrypt)
		require.NoError(e.t, err)
		require.NoError(e.t, xml.Unmarshal(plain, &r), string(plain))
	}
	require.Equal(e.t, "text", r.MsgType)
	return r.Content
}

func readFile(t testing.TB, name string) string {
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return string(b)
}
