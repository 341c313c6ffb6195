package mailbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/lianxin/lianxin/channels"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/alicebob/miniredis/v2"
	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/channels/mailbox"
	"github.com/lianxin/lianxin/queue"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

var limits = mailbox.Limits{MaxAttachments: 2, MaxAttachmentBytes: 1 << 10, MaxLetterBytes: 64 << 10, MaxTextRunes: 500}

// newHandler serves letters into a real queue on the embedded store.
func newHandler(t testing.TB) (http.Handler, *queue.Queue) {
	t.Helper()
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	q, err := queue.New(rdb, queue.Options{NodeID: "t", Queues: []queue.Def{{Name: "general"}}})
	require.NoError(t, err)
	blobs, err := blobstore.NewDir(t.TempDir())
	require.NoError(t, err)
	h := mailbox.NewHandler(func(id string) (channels.Mailbox, bool) {
		return channels.Mailbox{ID: id, Name: "市长信箱", Queue: "general"}, id == "cd-city-0002"
	}, q, blobs, limits, nil)
	mux := http.NewServeMux()
	h.Register(mux)
	return mux, q
}

func post(h http.Handler, ctype string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/channels/mailbox/cd-city-0002/letters", bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestLetterBecomesContact(t *testing.T) {
	h, q := newHandler(t)
	w := post(h, "application/json", []byte(`{"name":" 李四 ","phone":"+86 139-0013-9000","email":"li@example.cn",
		"text":"我要投诉：\r\n小区物业乱收费","address":"成都市武侯区某小区"}`))
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	var out struct {
		TrackingNo string `json:"tracking_no"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	c, err := q.Contact(context.Background(), out.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, queue.ChannelMailbox, c.Channel)
	require.Equal(t, "cd-city-0002", c.Line)
	require.Equal(t, "市长信箱", c.LineName)
	require.Equal(t, "李四", c.Citizen.Name)
	require.Equal(t, "+8613900139000", c.Citizen.Phone)
	require.Equal(t, "li@example.cn", c.Citizen.Email)
	require.Equal(t, "我要投诉：\n小区物业乱收费", c.Text)
	require.Equal(t, "我要投诉：", c.Subject, "the first line stands in for a missing subject")
	require.Equal(t, queue.RequestComplaint, c.RequestType, "first guess from the words")
	require.Equal(t, "成都市武侯区某小区", c.Location.Address)
	require.Equal(t, queue.StateWaiting, c.State)
}

func TestMultipartLetter(t *testing.T) {
	h, q := newHandler(t)
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	require.NoError(t, mw.WriteField("text", "附件是现场照片"))
	require.NoError(t, mw.WriteField("email", "wang@example.cn"))
	fw, err := mw.CreateFormFile("attachments", `..\..\etc\现场.png`)
	require.NoError(t, err)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 100)...)
	_, _ = fw.Write(png)
	require.NoError(t, mw.Close())
	w := post(h, mw.FormDataContentType(), b.Bytes())
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	var out struct {
		TrackingNo string `json:"tracking_no"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	c, err := q.Contact(context.Background(), out.TrackingNo)
	require.NoError(t, err)
	require.Len(t, c.Attachments, 1)
	a := c.Attachments[0]
	require.Equal(t, "现场.png", a.Name, "no path from the sender's machine")
	require.Equal(t, "image/png", a.Type, "the type is what the bytes are")
	require.EqualValues(t, len(png), a.Size)
	require.Len(t, a.SHA256, 64)
}

// FuzzJSONLetter posts arbitrary bodies: every answer is one of the
// documented statuses with a JSON body, and every accepted letter is a
// contact whose text fits the limits.
func FuzzJSONLetter(f *testing.F) {
	h, q := newHandler(f)
	for _, s := range []string{`{"text":"路灯坏了","phone":"13800138000"}`, `{"text":"a","email":"a@b.cn","request_type":"help"}`,
		`{"text":5}`, `{`, `[]`, `{"text":"x","phone":"1"}`, "{\"text\":\"\xff\"}", `{"text":"a","email":"a@b.cn"} {}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAnswer(t, q, post(h, "application/json", body))
	})
}

// FuzzMultipartLetter does the same for multipart forms.
func FuzzMultipartLetter(f *testing.F) {
	h, q := newHandler(f)
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.SetBoundary("xYzZY")
	_ = mw.WriteField("text", "噪音")
	_ = mw.WriteField("phone", "13800138000")
	fw, _ := mw.CreateFormFile("attachments", "a.txt")
	_, _ = fw.Write([]byte("hello"))
	_ = mw.Close()
	f.Add(b.Bytes())
	f.Add([]byte("--xYzZY\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nhi\r\n--xYzZY--\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAnswer(t, q, post(h, "multipart/form-data; boundary=xYzZY", body))
	})
}

func checkAnswer(t *testing.T, q *queue.Queue, w *httptest.ResponseRecorder) {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("status %d, body not JSON: %q", w.Code, w.Body.String())
	}
	switch w.Code {
	case http.StatusAccepted:
		tn, _ := out["tracking_no"].(string)
		c, err := q.Contact(context.Background(), tn)
		if err != nil {
			t.Fatalf("accepted %s but no contact: %v", tn, err)
		}
		if c.Text == "" || utf8.RuneCountInString(c.Text) > limits.MaxTextRunes || !utf8.ValidString(c.Text) {
			t.Fatalf("accepted a letter with bad text %q", c.Text)
		}
		if c.Citizen.Phone == "" && c.Citizen.Email == "" {
			t.Fatal("accepted a letter nobody can answer")
		}
		if len(c.Attachments) > limits.MaxAttachments {
			t.Fatalf("%d attachments", len(c.Attachments))
		}
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		if msg, _ := out["message"].(string); strings.TrimSpace(msg) == "" {
			t.Fatalf("%d without a message: %v", w.Code, out)
		}
	default:
		t.Fatalf("unexpected status %d: %v", w.Code, out)
	}
}

func TestEmergencyLetterGoesFirstAndAlerts(t *testing.T) {
	h, q := newHandler(t)
	w := post(h, "application/json", []byte(`{"phone":"13800138000","text":"请问办证要带什么材料"}`))
	require.Equal(t, http.StatusAccepted, w.Code)
	w = post(h, "application/json", []byte(`{"phone":"13800138001","text":"楼道里燃气泄漏了，味道很大"}`))
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	var out struct {
		TrackingNo string `json:"tracking_no"`
		Message    string `json:"message"`
		Emergency  string `json:"emergency"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	require.Equal(t, "gas", out.Emergency)
	require.Contains(t, out.Message, "119", "the writer is told to call 119 at once")
	require.Contains(t, out.Message, out.TrackingNo)
	c, err := q.Contact(context.Background(), out.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, 9, c.Priority)
	require.Equal(t, "gas", c.Emergency, "the kind is kept for the desk")
	require.Equal(t, queue.RequestHelp, c.RequestType)
	stats, err := q.Stats(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 2, stats[0].Waiting)
}
