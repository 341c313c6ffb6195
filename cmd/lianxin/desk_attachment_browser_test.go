package main

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// The desk page fetches an attachment with the token in the Authorization
// header (no token in any URL) and saves it from a blob URL: the agent who
// holds the letter clicks it and gets the citizen's bytes.
func TestDeskAttachmentInBrowser(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) { c.Queue.OfferTimeout = 5 * time.Minute })
	box := mailboxFor(t, "general")
	b := startBrowser(t)
	defer b.close(t)
	downloads := t.TempDir()
	_, err := chromedp.CallBrowser(b.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
	require.NoError(t, err, "allow downloads")
	b.do(t, "a laptop's screen", chromedp.EmulateViewport(1366, 768))

	b.login(t, n.base, "1001")
	b.goReady(t)
	photo := []byte("\xff\xd8\xff\xe0 a citizen's photo of the broken street light \xff\xd9")
	var (
		body bytes.Buffer
		fw   io.Writer
	)
	w := multipart.NewWriter(&body)
	require.NoError(t, w.WriteField("text", "路灯坏了，附照片"))
	require.NoError(t, w.WriteField("phone", "138 0013 8000"))
	fw, err = w.CreateFormFile("attachments", "路灯.jpg")
	require.NoError(t, err)
	_, _ = fw.Write(photo)
	require.NoError(t, w.Close())
	r := do(t, http.MethodPost, n.base+"/channels/mailbox/"+box+"/letters", w.FormDataContentType(), body.Bytes())
	require.Equal(t, http.StatusAccepted, r.Status, "%v", r.Body)
	tn := r.Body["tracking_no"].(string)

	offer := `#offers [data-offer="` + tn + `"]`
	b.do(t, "accept the offer", chromedp.WaitVisible(chromedp.CSS(offer)), chromedp.Click(chromedp.CSS(offer+" button.accept")))
	link := `#detail-attachments a.attachment`
	b.do(t, "see the attachment", chromedp.WaitVisible(chromedp.CSS(link)))
	require.Equal(t, "#", browserRun(t, b, "the link holds no token",
		chromedp.Evaluate[string](`document.querySelector('#detail-attachments a.attachment').getAttribute('href')`)))
	b.screenshot(t, "attachment-1366x768")
	b.do(t, "download it", chromedp.Click(chromedp.CSS(link)))

	// The browser writes the file when the download completes.
	ctx, cancel := context.WithTimeout(context.Background(), browserWait)
	defer cancel()
	var got []byte
	for got == nil {
		files, _ := filepath.Glob(filepath.Join(downloads, "*"))
		for _, f := range files {
			if filepath.Ext(f) == ".crdownload" {
				continue
			}
			if data, err := os.ReadFile(f); err == nil && len(data) == len(photo) {
				got = data
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no download in %s (title: %q)", downloads, browserRun(t, b, "link title",
				chromedp.Evaluate[string](`document.querySelector('#detail-attachments a.attachment').title`)))
		case <-time.After(100 * time.Millisecond):
		}
	}
	require.Equal(t, photo, got)
	b.noPageErrors(t)
}
