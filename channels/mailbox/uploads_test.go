package mailbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/channels/mailbox"
	"github.com/lianxin/lianxin/queue"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestUploadsBounded: with MaxUploads 1, a multipart letter arriving while
// another is still being received is answered 503 busy with Retry-After at
// once (it holds no connection or disk stream); once the first is in, the
// next is taken. JSON letters are not bounded by it, and a JSON body past
// what any JSON letter needs is 413 before it is read whole (issue 7 #5).
func TestUploadsBounded(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	q, err := queue.New(rdb, queue.Options{NodeID: "t", Queues: []queue.Def{{Name: "general"}}})
	require.NoError(t, err)
	blobs, err := blobstore.NewDir(t.TempDir())
	require.NoError(t, err)
	lim := limits
	lim.MaxUploads = 1
	lim.MaxLetterBytes = 1 << 20
	lim.MaxAttachmentBytes = 512 << 10
	h := mailbox.NewHandler(func(id string) (channels.Mailbox, bool) {
		return channels.Mailbox{ID: id, Name: "市长信箱", Queue: "general"}, true
	}, q, blobs, lim, nil)
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	url := srv.URL + "/channels/mailbox/cd-city-0002/letters"

	small := func() (string, []byte) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		_ = mw.WriteField("phone", "13800138000")
		_ = mw.WriteField("text", "路灯坏了")
		fw, _ := mw.CreateFormFile("attachments", "a.txt")
		_, _ = fw.Write([]byte("photo"))
		_ = mw.Close()
		return mw.FormDataContentType(), b.Bytes()
	}
	post := func(ct string, body io.Reader) (int, map[string]any, http.Header) {
		resp, err := http.Post(url, ct, body)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out, resp.Header
	}

	// The slow upload: its first bytes, then nothing until we say.
	type upload struct {
		pw   *io.PipeWriter
		mw   *multipart.Writer
		done chan int
	}
	startSlow := func() *upload {
		pr, pw := io.Pipe()
		t.Cleanup(func() { _ = pw.Close() })
		u := &upload{pw: pw, mw: multipart.NewWriter(pw), done: make(chan int, 1)}
		go func() {
			code, _, _ := post(u.mw.FormDataContentType(), pr)
			u.done <- code
		}()
		go func() {
			_ = u.mw.WriteField("phone", "13900139000")
			fw, err := u.mw.CreateFormFile("attachments", "scan.txt")
			if err != nil {
				return // refused (503) and closed before its first part was written
			}
			// More than the client's and the server's buffers hold, so
			// that the handler is reading it.
			_, _ = fw.Write(bytes.Repeat([]byte("x"), 64<<10))
		}()
		return u
	}
	slow := startSlow()
	busy := false
	for deadline := time.Now().Add(60 * time.Second); !busy && time.Now().Before(deadline); {
		select {
		case code := <-slow.done: // it came while a small one held the slot
			require.Equal(t, http.StatusServiceUnavailable, code)
			slow = startSlow()
		default:
		}
		ct, body := small()
		code, out, hdr := post(ct, bytes.NewReader(body))
		switch code {
		case http.StatusAccepted: // the slow one is not read yet
			time.Sleep(10 * time.Millisecond)
		case http.StatusServiceUnavailable:
			require.Equal(t, "busy", out["error"], "%v", out)
			require.NotEmpty(t, hdr.Get("Retry-After"))
			busy = true
		default:
			t.Fatalf("status %d: %v", code, out)
		}
	}
	require.True(t, busy, "a second upload while one is received is told to wait")
	code, out, _ := post("application/json", strings.NewReader(`{"phone":"13800138000","text":"JSON 不占上传名额"}`))
	require.Equal(t, http.StatusAccepted, code, "%v", out)

	_ = slow.mw.WriteField("text", "扫描件") // the slow one ends
	_ = slow.mw.Close()
	_ = slow.pw.Close()
	require.Equal(t, http.StatusAccepted, <-slow.done)
	ct, body := small()
	code, out, _ = post(ct, bytes.NewReader(body))
	require.Equal(t, http.StatusAccepted, code, "the slot is free again: %v", out)

	// A JSON body larger than any JSON letter: 413, naming the bound.
	big := `{"phone":"13800138000","text":"` + strings.Repeat("长", 200<<10) + `"}`
	code, out, _ = post("application/json", strings.NewReader(big))
	require.Equal(t, http.StatusRequestEntityTooLarge, code, "%v", out)
	require.Contains(t, out["message"], "multipart/form-data")
}
