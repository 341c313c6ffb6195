package wechat

import (
	"errors"
	"fmt"
)

// Errors of this package. Failures of the queue are passed through (check
// them with queue.Temporary); the Replier's errors wrap the channels
// package's ErrReply… sentinels the agent sees.
var (
	// ErrBadKey: an EncodingAESKey that is not 43 characters of base64.
	ErrBadKey = errors.New("wechat: bad EncodingAESKey")
	// ErrDecrypt: an Encrypt field that does not open with the account's
	// keys or is not for its AppID/CorpID.
	ErrDecrypt = errors.New("wechat: cannot decrypt")
	// ErrSignature: signature or msg_signature does not match.
	ErrSignature = errors.New("wechat: signature does not match")
	// ErrBadMessage: a body that is not a message WeChat sends.
	ErrBadMessage = errors.New("wechat: bad message")
	// ErrAPI: the WeChat API answered with an error code.
	ErrAPI = errors.New("wechat: API error")
)

// APIError is an error code of the WeChat API (errcode, errmsg).
type APIError struct {
	Code int
	Msg  string
}

func (e *APIError) Error() string { return fmt.Sprintf("wechat: API errcode %d: %s", e.Code, e.Msg) }

// Unwrap makes errors.Is(err, ErrAPI) hold.
func (e *APIError) Unwrap() error { return ErrAPI }

// Error codes of the WeChat and WeCom APIs that change what we do.
const (
	codeBusy           = -1    // system busy: try again
	codeBadCredential  = 40001 // access_token invalid (or the secret is wrong)
	codeBadToken       = 40014 // access_token invalid
	codeTokenExpired   = 42001 // access_token expired
	codeWindowClosed   = 45015 // more than 48 hours since the user's last message
	codeTooManyReplies = 45047 // too many messages since the user's last message
	codeNotFollowing   = 43004 // the user does not follow the account
	codeBadOpenID      = 40003
	codeFreqLimit      = 45009 // API call limit reached for today
)

// tokenInvalid reports whether the code says the access token must be
// fetched again.
func tokenInvalid(code int) bool {
	return code == codeBadCredential || code == codeBadToken || code == codeTokenExpired
}

// fieldError is a bad message, named by its XML element or query parameter.
type fieldError struct {
	field string
	msg   string
}

func (e *fieldError) Error() string { return "wechat: " + e.field + ": " + e.msg }
func (e *fieldError) Unwrap() error { return ErrBadMessage }

func badField(field, format string, args ...any) error {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}
