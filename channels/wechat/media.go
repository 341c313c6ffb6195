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
// to a contact. It waits in a durable outbox, so a fetch queued by a node
// that dies is done by another.
type mediaJob struct {
	Account string `json:"account"`
	TN      string `json:"tn"`
	Kind    string `json:"kind"` // image, voice, video
	MsgType string `json:"msg_type"`
	MediaID string `json:"media_id"`
	MsgID   string `json:"msg_id"`

	account *account
}

// Outbox keeps media fetches durably until done (queue.Outbox).
type Outbox interface {
	Put(ctx context.Context, payload []byte) (string, error)
	Serve(ctx context.Context, lease, poll time.Duration, wake <-chan struct{}, do func(context.Context, queue.Job))
	Done(ctx context.Context, id string) error
}

var _ Outbox = (*queue.Outbox)(nil)

// WithMediaOutbox keeps media fetches in box [required when blobs are
// given: without it media is not fetched].
func WithMediaOutbox(box Outbox) Option {
	return func(c *Channel) error { c.outbox = box; return nil }
}

// mediaPoll is how often an idle fetcher looks for work other nodes queued.
const mediaPoll = time.Second

// queueMedia hands a fetch to the background fetchers of any node.
func (ch *Channel) queueMedia(ctx context.Context, j mediaJob, log *zap.Logger) {
	if ch.blobs == nil || ch.outbox == nil {
		return
	}
	payload, err := json.Marshal(j)
	if err == nil {
		_, err = ch.outbox.Put(ctx, payload)
	}
	if err != nil {
		log.Warn("media fetch not queued", zap.String("media", j.MediaID), zap.Error(err))
		return
	}
	select {
	case ch.wake <- struct{}{}:
	default:
	}
}

// fetchMedia works through the media jobs until ctx ends. A job is leased
// for long enough to try every attempt; one left unfinished at shutdown
// comes due again for any node when its lease ends.
func (ch *Channel) fetchMedia(ctx context.Context) {
	lease := time.Duration(ch.cfg.SendAttempts)*(ch.cfg.APITimeout+ch.cfg.Backoff<<ch.cfg.SendAttempts) + time.Minute
	ch.outbox.Serve(ctx, lease, mediaPoll, ch.wake, func(ctx context.Context, job queue.Job) {
		var j mediaJob
		if err := json.Unmarshal(job.Payload, &j); err != nil || ch.accounts[j.Account] == nil {
			ch.log.Error("media fetch for no account here; dropped", zap.String("job", job.ID), zap.Error(err))
			_ = ch.outbox.Done(context.WithoutCancel(ctx), job.ID)
			return
		}
		j.account = ch.accounts[j.Account]
		if ch.attach(ctx, j) {
			_ = ch.outbox.Done(context.WithoutCancel(ctx), job.ID)
		}
	})
}

// attach fetches one media (trying again on temporary errors), stores it
// and adds it to the contact's conversation; a failure is added too, so the
// agent knows to ask the citizen again. It reports whether the job is
// finished (false when shutting down or the contact could not be told).
func (ch *Channel) attach(ctx context.Context, j mediaJob) bool {
	log := ch.log.With(zap.String("account", j.account.cfg.ID), zap.String("contact", j.TN),
		zap.String("media", j.MediaID))
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
		return false // shutting down; another node takes it when its lease ends
	}
	m := queue.Message{ID: j.MsgID, From: queue.FromSystem, Kind: j.Kind}
	if err != nil {
		log.Warn("media not fetched", zap.Error(err))
		m.Status = "failed"
		m.Text = "无法获取市民发送的" + kindName(j.Kind) + "（" + reason(err) + "），请市民重新发送。"
	} else {
		m.Text = "市民发送的" + kindName(j.Kind)
		m.Attachments = []queue.Attachment{att}
	}
	actx, cancel := context.WithTimeout(ctx, ch.cfg.APITimeout)
	defer cancel()
	if err := ch.q.AddMessage(actx, j.TN, m); err != nil {
		log.Warn("media not attached", zap.Error(err))
		return false
	}
	log.Info("media attached", zap.Int64("size", att.Size))
	return true
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
		q := url.Values{"access_token": {tok}, "media_id": {j.MediaID}}
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
		return queue.Attachment{}, fmt.Errorf("wechat: the %s is %d bytes, more than %d", j.Kind, resp.ContentLength,
			ch.cfg.MaxMediaBytes)
	}
	sha, size, err := ch.blobs.Put(ctx, resp.Body, ch.cfg.MaxMediaBytes)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return queue.Attachment{}, err
		}
		return queue.Attachment{}, fmt.Errorf("wechat: store the %s: %w", j.Kind, err)
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
	id := j.MsgID
	if id == "" {
		id = j.MediaID[:min(len(j.MediaID), 16)]
	}
	return j.Kind + "-" + id + ext
}

var mediaExt = map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "audio/amr": ".amr",
	"audio/speex": ".speex", "audio/mpeg": ".mp3", "video/mp4": ".mp4", "application/octet-stream": ""}
