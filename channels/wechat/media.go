package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// mediaJob is an image, voice or video to fetch by its media id and attach
// to a contact.
type mediaJob struct {
	account *account
	tn      string
	kind    string // image, voice, video
	msgType string
	mediaID string
	msgID   string
}

// queueMedia hands a fetch to the background workers; when they are too
// far behind the fetch is dropped and the desk is told.
func (ch *Channel) queueMedia(j mediaJob, log *zap.Logger) {
	if ch.blobs == nil {
		return
	}
	select {
	case ch.media <- j:
	default:
		log.Warn("media backlog full; not fetched", zap.String("media", j.mediaID))
	}
}

// fetchMedia works through the media jobs until ctx ends.
func (ch *Channel) fetchMedia(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-ch.media:
			ch.attach(ctx, j)
		}
	}
}

// attach fetches one media (trying again on temporary errors), stores it
// and adds it to the contact's conversation; a failure is added too, so the
// agent knows to ask the citizen again.
func (ch *Channel) attach(ctx context.Context, j mediaJob) {
	log := ch.log.With(zap.String("account", j.account.cfg.ID), zap.String("contact", j.tn),
		zap.String("media", j.mediaID))
	var att queue.Attachment
	var err error
	wait := ch.cfg.Backoff
	for try := 1; ; try++ {
		att, err = ch.fetchOne(ctx, j)
		if err == nil || !temporary(err) || try >= ch.cfg.SendAttempts || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		wait *= 2
	}
	if ctx.Err() != nil {
		return // shutting down; the citizen's text is in the contact already
	}
	m := queue.Message{ID: j.msgID, From: queue.FromSystem, Kind: j.kind}
	if err != nil {
		log.Warn("media not fetched", zap.Error(err))
		m.Status = "failed"
		m.Text = "无法获取市民发送的" + kindName(j.kind) + "（" + reason(err) + "），请市民重新发送。"
	} else {
		m.Text = "市民发送的" + kindName(j.kind)
		m.Attachments = []queue.Attachment{att}
	}
	actx, cancel := context.WithTimeout(ctx, ch.cfg.APITimeout)
	defer cancel()
	if err := ch.q.AddMessage(actx, j.tn, m); err != nil {
		log.Warn("media not attached", zap.Error(err))
		return
	}
	log.Info("media attached", zap.Int64("size", att.Size))
}

func kindName(kind string) string {
	switch kind {
	case "image":
		return "图片"
	case "voice":
		return "语音"
	}
	return "视频"
}

// fetchOne downloads a media through /cgi-bin/media/get and stores it. An
// official account's video comes as JSON with a video_url to download.
func (ch *Channel) fetchOne(ctx context.Context, j mediaJob) (queue.Attachment, error) {
	a := j.account
	stale := ""
	for try := 0; try < 2; try++ {
		tok, err := a.api.accessToken(ctx, stale)
		if err != nil {
			return queue.Attachment{}, err
		}
		q := url.Values{"access_token": {tok}, "media_id": {j.mediaID}}
		resp, err := ch.get(ctx, a.api.base+"/cgi-bin/media/get?"+q.Encode())
		if err != nil {
			return queue.Attachment{}, err
		}
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if ct != "application/json" && ct != "text/plain" {
			defer resp.Body.Close()
			return ch.store(ctx, j, resp)
		}
		var ans struct {
			apiAnswer
			VideoURL string `json:"video_url"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, maxAPIBody)).Decode(&ans)
		resp.Body.Close()
		switch {
		case err != nil:
			return queue.Attachment{}, &temporaryError{err: fmt.Errorf("wechat: media/get answer: %w", err)}
		case ans.VideoURL != "":
			u, perr := url.Parse(ans.VideoURL)
			if perr != nil || (u.Scheme != "http" && u.Scheme != "https") {
				return queue.Attachment{}, fmt.Errorf("wechat: media/get: video_url %q is not an http(s) URL", clip(ans.VideoURL))
			}
			vresp, err := ch.get(ctx, ans.VideoURL)
			if err != nil {
				return queue.Attachment{}, err
			}
			defer vresp.Body.Close()
			return ch.store(ctx, j, vresp)
		case tokenInvalid(ans.ErrCode):
			stale = tok
		default:
			return queue.Attachment{}, &APIError{Code: ans.ErrCode, Msg: ans.ErrMsg}
		}
	}
	return queue.Attachment{}, &APIError{Code: codeBadToken, Msg: "access token refused twice"}
}

func (ch *Channel) get(ctx context.Context, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := ch.hc.Do(req)
	if err != nil {
		return nil, &temporaryError{err: redact(err)}
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &temporaryError{err: fmt.Errorf("wechat: media download answered HTTP %d", resp.StatusCode)}
	}
	return resp, nil
}

// store puts a media body into the blob store.
func (ch *Channel) store(ctx context.Context, j mediaJob, resp *http.Response) (queue.Attachment, error) {
	if resp.ContentLength > ch.cfg.MaxMediaBytes {
		return queue.Attachment{}, fmt.Errorf("wechat: the %s is %d bytes, more than %d", j.kind, resp.ContentLength,
			ch.cfg.MaxMediaBytes)
	}
	sha, size, err := ch.blobs.Put(ctx, resp.Body, ch.cfg.MaxMediaBytes)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return queue.Attachment{}, err
		}
		return queue.Attachment{}, fmt.Errorf("wechat: store the %s: %w", j.kind, err)
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return queue.Attachment{Name: mediaName(j, resp, ct), Type: ct, Size: size, SHA256: sha}, nil
}

// mediaName is the file name WeChat gives (Content-Disposition), or one
// made from the message id and type.
func mediaName(j mediaJob, resp *http.Response, ct string) string {
	if _, p, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		if n := p["filename"]; n != "" && !strings.ContainsAny(n, `/\`) && len(n) <= 128 {
			return n
		}
	}
	ext, ok := mediaExt[ct]
	if exts, _ := mime.ExtensionsByType(ct); !ok && len(exts) > 0 {
		ext = exts[0]
	}
	id := j.msgID
	if id == "" {
		id = j.mediaID[:min(len(j.mediaID), 16)]
	}
	return j.kind + "-" + id + ext
}

var mediaExt = map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "audio/amr": ".amr",
	"audio/speex": ".speex", "audio/mpeg": ".mp3", "video/mp4": ".mp4", "application/octet-stream": ""}
