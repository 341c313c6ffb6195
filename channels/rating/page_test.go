package rating_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/rating"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

func get(t *testing.T, u string) (int, http.Header, string) {
	t.Helper()
	res, err := http.Get(u)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header, string(b)
}

func post(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	res, err := http.PostForm(u, form)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// TestRatingPage: a letter's citizen opens the link, sees the three answers
// (Chinese, no script, strict CSP), picks 基本满意 once; the link then is
// spent. A malformed or unknown token gets the same "expired" page.
func TestRatingPage(t *testing.T) {
	rs := queuetest.RedisServer(t)
	ctx := context.Background()
	q, err := queue.New(rs.Client(t), queue.Options{NodeID: "n1", Queues: []queue.Def{{Name: "general"}}})
	require.NoError(t, err)
	r, err := q.Enqueue(ctx, queue.Intake{Channel: queue.ChannelMailbox, Line: "m1", Queue: "general", Subject: "<b>噪音</b>",
		Citizen: queue.Citizen{Address: "a@example.cn", Email: "a@example.cn"}}, "")
	require.NoError(t, err)
	tok := rating.NewToken()
	_, err = q.AskRating(ctx, r.TrackingNo, queue.RatingAsk{Window: time.Hour, Token: tok})
	require.NoError(t, err)
	mux := http.NewServeMux()
	rating.NewHandler(q, nil).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	st, h, body := get(t, srv.URL+"/rate/"+tok)
	require.Equal(t, http.StatusOK, st)
	require.Contains(t, h.Get("Content-Security-Policy"), "default-src 'none'")
	require.Contains(t, h.Get("Content-Security-Policy"), "form-action 'self'")
	require.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
	require.Contains(t, body, "请对本次服务进行评价")
	require.Contains(t, body, r.TrackingNo)
	require.Contains(t, body, `value="2">基本满意</button>`)
	require.NotContains(t, body, "<script")
	require.NotContains(t, body, "http", "no external asset")

	st, body = post(t, srv.URL+"/rate/"+tok, url.Values{"score": {"9"}})
	require.Equal(t, http.StatusBadRequest, st)
	st, body = post(t, srv.URL+"/rate/"+tok, url.Values{"score": {"2"}})
	require.Equal(t, http.StatusOK, st, body)
	require.Contains(t, body, "感谢您的评价")
	c, err := q.Contact(ctx, r.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, "基本满意", c.Rating.Label)

	st, body = post(t, srv.URL+"/rate/"+tok, url.Values{"score": {"1"}})
	require.Equal(t, http.StatusNotFound, st, "the link is spent")
	require.Contains(t, body, "链接已失效")
	for _, bad := range []string{"abc", strings.Repeat("A", 43), "%3Cscript%3E"} {
		st, _, body = get(t, srv.URL+"/rate/"+bad)
		require.Equal(t, http.StatusNotFound, st, bad)
		require.Contains(t, body, "链接已失效")
	}
	c, err = q.Contact(ctx, r.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, 2, c.Rating.Score)
}
