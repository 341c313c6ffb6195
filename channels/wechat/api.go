package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// maxAPIBody bounds a JSON answer of the WeChat API.
const maxAPIBody = 1 << 20

// api calls the WeChat (or WeCom) API for one account, with its access
// token cached until shortly before it expires and fetched again when the
// API says it is no longer valid.
type api struct {
	acct *Account
	base string
	hc   *http.Client
	now  func() time.Time

	// store, when set, shares the token with the other nodes.
	store TokenStore

	mu      sync.Mutex
	token   string
	expires time.Time
}

type tokenAnswer struct {
	ErrCode     int    `json:"errcode"`
	ErrMsg      string `json:"errmsg"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// accessToken returns the cached token, or a new one when stale is the
// token the API just refused (or there is none).
func (a *api) accessToken(ctx context.Context, stale string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && a.token != stale && a.now().Before(a.expires) {
		return a.token, nil
	}
	if a.store != nil {
		// Another node may have fetched one already: use it unless it is
		// the one the API just refused.
		tok, exp, err := a.store.Token(ctx, a.acct.ID)
		if err == nil && tok != "" && tok != stale && a.now().Before(exp) {
			a.token, a.expires = tok, exp
			return tok, nil
		}
	}
	q := url.Values{}
	path := "/cgi-bin/token"
	if a.acct.Kind == KindWeCom {
		path = "/cgi-bin/gettoken"
		q.Set("corpid", a.acct.AppID)
		q.Set("corpsecret", a.acct.AppSecret)
	} else {
		q.Set("grant_type", "client_credential")
		q.Set("appid", a.acct.AppID)
		q.Set("secret", a.acct.AppSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	var ans tokenAnswer
	if err := a.do(req, &ans); err != nil {
		return "", fmt.Errorf("wechat: access token: %w", err)
	}
	if ans.ErrCode != 0 || ans.AccessToken == "" {
		return "", fmt.Errorf("wechat: access token: %w", &APIError{Code: ans.ErrCode, Msg: ans.ErrMsg})
	}
	ttl := time.Duration(ans.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 7200 * time.Second
	}
	// Refresh well before the end: WeChat keeps the old token valid for
	// five minutes after a new one is issued.
	a.token, a.expires = ans.AccessToken, a.now().Add(ttl-min(ttl/2, 10*time.Minute))
	if a.store != nil {
		// Best effort: without the store each node still works on its own.
		_ = a.store.SetToken(ctx, a.acct.ID, a.token, a.expires)
	}
	return a.token, nil
}

type apiAnswer struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// postJSON posts body to path with the access token, fetching the token
// again once if the API says it is invalid or expired.
func (a *api) postJSON(ctx context.Context, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	stale := ""
	for try := 0; ; try++ {
		tok, err := a.accessToken(ctx, stale)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path+"?access_token="+url.QueryEscape(tok),
			bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		var ans apiAnswer
		if err := a.do(req, &ans); err != nil {
			return err
		}
		if ans.ErrCode == 0 {
			return nil
		}
		if tokenInvalid(ans.ErrCode) && try == 0 {
			stale = tok
			continue
		}
		return &APIError{Code: ans.ErrCode, Msg: ans.ErrMsg}
	}
}

// do sends req and decodes a JSON answer; an HTTP error status is a
// temporaryError.
func (a *api) do(req *http.Request, out any) error {
	resp, err := a.hc.Do(req)
	if err != nil {
		return &temporaryError{err: redact(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIBody+1))
	if err != nil {
		return &temporaryError{err: redact(err)}
	}
	if resp.StatusCode != http.StatusOK {
		return &temporaryError{err: fmt.Errorf("wechat: API answered HTTP %d", resp.StatusCode)}
	}
	if len(body) > maxAPIBody {
		return fmt.Errorf("wechat: API answer is larger than %d bytes", maxAPIBody)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &temporaryError{err: fmt.Errorf("wechat: API answer is not JSON: %w", err)}
	}
	return nil
}

// temporaryError is a failure that may pass: the network, an HTTP error
// status, a garbled answer.
type temporaryError struct{ err error }

func (e *temporaryError) Error() string { return e.err.Error() }
func (e *temporaryError) Unwrap() error { return e.err }

// temporary reports whether trying again may help.
func temporary(err error) bool {
	var te *temporaryError
	var ae *APIError
	switch {
	case errors.As(err, &te):
		return true
	case errors.As(err, &ae):
		return ae.Code == codeBusy || tokenInvalid(ae.Code)
	}
	return false
}

// redact keeps access tokens and secrets in URLs out of error messages.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		u, perr := url.Parse(ue.URL)
		if perr == nil {
			u.RawQuery = ""
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}
