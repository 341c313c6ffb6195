package wechat_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// fakeAPI stands in for api.weixin.qq.com and qyapi.weixin.qq.com: it
// issues access tokens, takes customer-service and WeCom app messages, and
// serves media, answering with WeChat's JSON and error codes.
type fakeAPI struct {
	*httptest.Server
	mu     sync.Mutex
	apps   map[string]string // AppID or CorpID → secret
	tokens map[string]bool   // valid tokens
	issued int
	sent   []sentMessage
	// answers holds errcodes (or -HTTP status, e.g. -502) for the next sends.
	answers []int
	media   map[string]fakeMedia
}

type sentMessage struct {
	ToUser  string
	AgentID int
	Content string
	Path    string
}

type fakeMedia struct {
	ctype string
	body  []byte
	video bool // answered as {"video_url": …}, as WeChat does for videos
}

func newFakeAPI(t testing.TB) *fakeAPI {
	f := &fakeAPI{apps: map[string]string{}, tokens: map[string]bool{}, media: map[string]fakeMedia{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cgi-bin/token", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("grant_type") != "client_credential" {
			writeJSON(w, map[string]any{"errcode": 40002, "errmsg": "invalid grant_type"})
			return
		}
		f.issue(w, q.Get("appid"), q.Get("secret"))
	})
	mux.HandleFunc("GET /cgi-bin/gettoken", func(w http.ResponseWriter, r *http.Request) {
		f.issue(w, r.URL.Query().Get("corpid"), r.URL.Query().Get("corpsecret"))
	})
	mux.HandleFunc("POST /cgi-bin/message/custom/send", f.send)
	mux.HandleFunc("POST /cgi-bin/message/send", f.send)
	mux.HandleFunc("GET /cgi-bin/media/get", func(w http.ResponseWriter, r *http.Request) {
		if !f.valid(r) {
			writeJSON(w, map[string]any{"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"})
			return
		}
		id := r.URL.Query().Get("media_id")
		f.mu.Lock()
		m, ok := f.media[id]
		f.mu.Unlock()
		switch {
		case !ok:
			writeJSON(w, map[string]any{"errcode": 40007, "errmsg": "invalid media_id"})
		case m.video:
			writeJSON(w, map[string]any{"video_url": f.URL + "/video/" + id})
		default:
			w.Header().Set("Content-Type", m.ctype)
			w.Header().Set("Content-disposition", `attachment; filename="`+id+`.jpg"`)
			_, _ = w.Write(m.body)
		}
	})
	mux.HandleFunc("GET /video/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		m := f.media[r.PathValue("id")]
		f.mu.Unlock()
		w.Header().Set("Content-Type", m.ctype)
		_, _ = w.Write(m.body)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) issue(w http.ResponseWriter, app, secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.apps[app]; !ok || s != secret {
		writeJSON(w, map[string]any{"errcode": 40125, "errmsg": "invalid appsecret"})
		return
	}
	f.issued++
	tok := fmt.Sprintf("ACCESS_TOKEN_%d", f.issued)
	f.tokens[tok] = true
	writeJSON(w, map[string]any{"access_token": tok, "expires_in": 7200})
}

func (f *fakeAPI) valid(r *http.Request) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens[r.URL.Query().Get("access_token")]
}

// expireTokens makes every issued token stale, as WeChat does after a
// refresh elsewhere or after two hours.
func (f *fakeAPI) expireTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens = map[string]bool{}
}

func (f *fakeAPI) send(w http.ResponseWriter, r *http.Request) {
	if !f.valid(r) {
		writeJSON(w, map[string]any{"errcode": 42001, "errmsg": "access_token expired"})
		return
	}
	var m struct {
		ToUser  string `json:"touser"`
		MsgType string `json:"msgtype"`
		AgentID int    `json:"agentid"`
		Text    struct {
			Content string `json:"content"`
		} `json:"text"`
	}
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil || m.MsgType != "text" || m.ToUser == "" {
		writeJSON(w, map[string]any{"errcode": 47001, "errmsg": "data format error"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.answers) > 0 {
		code := f.answers[0]
		f.answers = f.answers[1:]
		if code < -1 {
			http.Error(w, "bad gateway", -code)
			return
		}
		writeJSON(w, map[string]any{"errcode": code, "errmsg": "answer " + strconv.Itoa(code)})
		return
	}
	f.sent = append(f.sent, sentMessage{ToUser: m.ToUser, AgentID: m.AgentID, Content: m.Text.Content, Path: r.URL.Path})
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok"})
}

func (f *fakeAPI) answerNext(codes ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = append(f.answers, codes...)
}

func (f *fakeAPI) sentMessages() []sentMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentMessage(nil), f.sent...)
}

func (f *fakeAPI) issuedTokens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued
}

func (f *fakeAPI) addMedia(id, ctype string, body []byte, video bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.media[id] = fakeMedia{ctype: ctype, body: body, video: video}
}
