package wechat_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lianxin/lianxin/channels/wechat"
	"github.com/lianxin/lianxin/queue/queuetest"
)

// FuzzWebhook posts arbitrary bodies, correctly signed, to the plaintext
// and the safe-mode account: every answer is 200 with "success" or a
// passive reply whose tracking number names a stored contact, or 400/413
// with a plain explanation; nothing else.
func FuzzWebhook(f *testing.F) {
	e := newEnv(f, queuetest.Miniredis(f))
	h := e.srv.Config.Handler
	files, _ := filepath.Glob("testdata/messages/*.xml")
	more, _ := filepath.Glob("testdata/invalid/*.xml")
	for _, name := range append(files, more...) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, body []byte, safe bool) {
		ts, nonce := "1732600000", "42"
		q := url.Values{"timestamp": {ts}, "nonce": {nonce}}
		acct, payload := acctPlain, string(body)
		if safe {
			acct = acctSafe
			c, _ := wechat.NewCrypter(mpToken, mpAESKey, "", mpAppID)
			enc := c.Encrypt(body, [16]byte{})
			payload = "<xml><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>"
			q.Set("encrypt_type", "aes")
			q.Set("msg_signature", c.Sign(ts, nonce, enc))
		} else {
			q.Set("signature", wechat.Signature(plainToken, ts, nonce))
		}
		req := httptest.NewRequest(http.MethodPost, "/channels/wechat/"+acct+"?"+q.Encode(), strings.NewReader(payload))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		out := w.Body.String()
		switch w.Code {
		case http.StatusOK:
			if out == "success" {
				return
			}
			text := fuzzReplyText(t, e, acct, out)
			m := trackingNo.FindStringSubmatch(text)
			if m == nil {
				if !strings.Contains(text, "感谢关注") && text != "欢迎关注！" {
					t.Fatalf("a reply without a tracking number: %q", text)
				}
				return
			}
			if _, err := e.q.Contact(context.Background(), m[1]); err != nil {
				t.Fatalf("reply names %s, which is not stored: %v", m[1], err)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			var refusal struct{ Error, Message string }
			if err := json.Unmarshal([]byte(out), &refusal); err != nil || refusal.Error == "" ||
				!strings.HasPrefix(refusal.Message, "wechat: ") || !utf8.ValidString(refusal.Message) {
				t.Fatalf("%d without a JSON explanation: %q", w.Code, out)
			}
		default:
			t.Fatalf("unexpected status %d: %q", w.Code, out)
		}
	})
}

func fuzzReplyText(t *testing.T, e *env, acct, body string) (text string) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("reply does not open: %v\n%s", r, body)
		}
	}()
	saved := e.t
	e.t = t
	defer func() { e.t = saved }()
	return e.replyText(acct, body)
}
