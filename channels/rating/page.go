// Package rating serves the public rating page of e-mail and web letters
// (回访评价): after wrap-up the citizen gets a link, PublicURL/rate/<token>,
// and answers 满意, 基本满意 or 不满意 there, once, within the window. The
// token is random (256 bits), single-use and expires with the window; the
// page is Chinese, has no script and no external asset, and is served with a
// strict Content-Security-Policy.
package rating

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strconv"

	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// Queue is the part of the queue the page needs.
type Queue interface {
	RatingByToken(ctx context.Context, token string) (*queue.Contact, error)
	RateByToken(ctx context.Context, token string, score int) (string, error)
}

// NewToken returns a new link token: 32 random bytes, base64url.
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validToken reports whether s looks like a NewToken.
func validToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Handler serves GET and POST /rate/{token}.
type Handler struct {
	q   Queue
	log *zap.Logger
}

// NewHandler returns the page's handler.
func NewHandler(q Queue, log *zap.Logger) *Handler {
	if log == nil {
		log = zap.NewNop()
	}
	return &Handler{q: q, log: log}
}

// Register adds the page's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /rate/{token}", h.show)
	mux.HandleFunc("POST /rate/{token}", h.rate)
}

const style = `body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:0;background:#f4f6f8;color:#1f2933}
main{max-width:32rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.4rem;margin:0 0 1rem}p{line-height:1.6}
form{display:flex;gap:.75rem;flex-wrap:wrap;margin-top:1.5rem}
button{flex:1;font-size:1.1rem;padding:.8rem 1rem;border:1px solid #9aa5b1;border-radius:6px;background:#fff;cursor:pointer}
button:hover,button:focus{background:#e6f0ff;border-color:#2f6fd6}`

var csp = "default-src 'none'; style-src 'sha256-" + func() string {
	sum := sha256.Sum256([]byte(style))
	return base64.StdEncoding.EncodeToString(sum[:])
}() + "'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{{.Title}}</title><style>` + style + `</style></head>
<body><main><h1>{{.Title}}</h1>{{range .Lines}}<p>{{.}}</p>{{end}}
{{if .Form}}<form method="post"><button name="score" value="1">满意</button><button name="score" value="2">基本满意</button><button name="score" value="3">不满意</button></form>{{end}}
</main></body></html>`))

type view struct {
	Title string
	Lines []string
	Form  bool
}

func (h *Handler) write(w http.ResponseWriter, status int, v view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := page.Execute(w, v); err != nil {
		h.log.Warn("rating page", zap.Error(err))
	}
}

var gone = view{Title: "链接已失效", Lines: []string{"此评价链接已使用或已过期。感谢您对一二三四五热线的支持。"}}

func (h *Handler) show(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !validToken(token) {
		h.write(w, http.StatusNotFound, gone)
		return
	}
	c, err := h.q.RatingByToken(r.Context(), token)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		h.write(w, http.StatusNotFound, gone)
		return
	case err != nil:
		h.write(w, http.StatusServiceUnavailable, view{Title: "暂时无法评价", Lines: []string{"系统繁忙，请稍后再试。"}})
		return
	}
	if c.Rating != nil {
		h.write(w, http.StatusOK, view{Title: "您已评价", Lines: []string{"您已对受理编号 " + c.TrackingNo + " 的诉求作出评价：" + c.Rating.Label + "。"}})
		return
	}
	h.write(w, http.StatusOK, view{Title: "请对本次服务进行评价", Form: true,
		Lines: []string{"您的诉求（受理编号 " + c.TrackingNo + "）已办结。", "请问您对本次服务是否满意？"}})
}

func (h *Handler) rate(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !validToken(token) {
		h.write(w, http.StatusNotFound, gone)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1024)
	score, err := strconv.Atoi(r.PostFormValue("score"))
	if err != nil || queue.RatingLabels[score] == "" {
		h.write(w, http.StatusBadRequest, view{Title: "请选择评价", Lines: []string{"请在 满意、基本满意、不满意 中选择一项。"}, Form: true})
		return
	}
	tn, err := h.q.RateByToken(r.Context(), token, score)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		h.write(w, http.StatusNotFound, gone)
		return
	case errors.Is(err, queue.ErrWrongState):
		h.write(w, http.StatusConflict, view{Title: "无法评价", Lines: []string{"此诉求已评价，或评价期限已过。"}})
		return
	case err != nil:
		h.write(w, http.StatusServiceUnavailable, view{Title: "暂时无法评价", Lines: []string{"系统繁忙，请稍后再试。"}})
		return
	}
	h.log.Info("citizen rated a letter", zap.String("contact", tn), zap.Int("score", score))
	h.write(w, http.StatusOK, view{Title: "感谢您的评价", Lines: []string{"您对受理编号 " + tn + " 的评价（" + queue.RatingLabels[score] + "）已收到。"}})
}
