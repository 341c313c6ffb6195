package wechat

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// Queue is the part of the queue the channel needs.
type Queue interface {
	channels.Receiver // channels.Take: every message goes in through the one intake path
	AddMessage(ctx context.Context, tn string, m queue.Message) error
	Messages(ctx context.Context, tn string) ([]queue.Message, error)
}

// Blobs stores media by content hash (channels/blobstore.Dir is one).
type Blobs interface {
	Put(ctx context.Context, r io.Reader, limit int64) (sha string, size int64, err error)
}

// Channel is the WeChat channel: the callback handler of every configured
// account, the background media fetcher, and the Replier for agents.
type Channel struct {
	cfg      Config
	log      *zap.Logger
	q        Queue
	blobs    Blobs
	accounts map[string]*account
	now      func() time.Time
	rand     io.Reader
	outbox   Outbox
	wake     chan struct{}
	hc       *http.Client
	follows  Follows
}

// account is one configured account with its crypto and API client.
type account struct {
	cfg   Account
	crypt *Crypter // nil for a plaintext account without a key
	api   *api
}

// Option changes how a Channel is made.
type Option func(*Channel) error

// WithClock sets the clock [time.Now].
func WithClock(now func() time.Time) Option {
	return func(c *Channel) error { c.now = now; return nil }
}

// WithRandom sets the source of the random prefix and nonces of encrypted
// replies [crypto/rand].
func WithRandom(r io.Reader) Option {
	return func(c *Channel) error { c.rand = r; return nil }
}

// WithHTTPClient sets the client for the WeChat API [one with
// Config.APITimeout].
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Channel) error {
		c.hc = hc
		for _, a := range c.accounts {
			a.api.hc = hc
		}
		return nil
	}
}

// New returns the channel for cfg (Defaults are applied, then Validate).
// blobs may be nil: media is then not fetched.
func New(cfg Config, log *zap.Logger, q Queue, blobs Blobs, opts ...Option) (*Channel, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	ch := &Channel{cfg: cfg, log: log.Named("wechat"), q: q, blobs: blobs, accounts: map[string]*account{},
		now: time.Now, rand: rand.Reader, wake: make(chan struct{}, 1), follows: newMemFollows()}
	hc := &http.Client{Timeout: cfg.APITimeout}
	ch.hc = hc
	for _, a := range cfg.Accounts {
		acc := &account{cfg: a, api: &api{base: cfg.APIBase, hc: hc}}
		acc.api.acct = &acc.cfg
		if a.Kind == KindWeCom {
			acc.api.base = cfg.WeComAPIBase
		}
		if a.EncodingAESKey != "" {
			c, err := NewCrypter(a.Token, a.EncodingAESKey, a.PreviousAESKey, a.AppID)
			if err != nil {
				return nil, fmt.Errorf("wechat.accounts %s: %w", a.ID, err)
			}
			acc.crypt = c
		}
		ch.accounts[a.ID] = acc
		if a.AppSecret == "" {
			// Said once here, not at each reply the agents try.
			ch.log.Warn("WeChat account "+noSecret, zap.String("account", a.ID))
		}
	}
	for _, o := range opts {
		if err := o(ch); err != nil {
			return nil, err
		}
	}
	for _, a := range ch.accounts {
		a.api.now = ch.now
	}
	if ch.blobs != nil && ch.outbox == nil {
		ch.log.Warn("no media outbox: images, voice and video are not fetched")
	}
	return ch, nil
}

// Register adds the callback routes to mux: GET (URL verification) and POST
// (messages and events) on /channels/wechat/{account}, for official
// accounts and WeCom apps alike.
func (ch *Channel) Register(mux *http.ServeMux) {
	mux.Handle("GET /channels/wechat/{account}", http.HandlerFunc(ch.verify))
	mux.Handle("POST /channels/wechat/{account}", http.HandlerFunc(ch.receive))
}

// Run fetches media in the background until ctx ends; it returns nil then.
func (ch *Channel) Run(ctx context.Context) error {
	if ch.blobs == nil || ch.outbox == nil {
		<-ctx.Done()
		return nil
	}
	done := make(chan struct{})
	for range ch.cfg.MediaWorkers {
		go func() {
			defer func() { done <- struct{}{} }()
			ch.fetchMedia(ctx)
		}()
	}
	for range ch.cfg.MediaWorkers {
		<-done
	}
	return nil
}
