package agentdesk

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
)

// Errors of the desk's HTTP API.
var (
	ErrBadCredentials = errors.New("agent or password is wrong")
	ErrLocked         = errors.New("too many wrong passwords; wait a minute")
	ErrNoToken        = errors.New("no token: log in first")
	ErrBadToken       = errors.New("token is unknown or expired: log in again")
)

// Websocket close codes of the desk protocol (see PROTOCOL.md).
const (
	CloseReplaced   = 4001
	CloseLoggedOut  = 4002
	closeGoingAway  = 1001
	closeTryAgain   = 1013
	closeServiceRst = 1012
)

// ReasonLoginExpired is the not-ready reason of an agent whose login is
// running out while it finishes its work (see desk.watchToken).
const ReasonLoginExpired = "login_expired"

// errorCode maps a queue error to the protocol's error codes.
func errorCode(err error) string {
	switch {
	case errors.Is(err, queue.ErrInvalid):
		return "bad_message"
	case errors.Is(err, queue.ErrNotFound):
		return "not_found"
	case errors.Is(err, queue.ErrNotYours):
		return "not_yours"
	case errors.Is(err, queue.ErrWrongState):
		return "wrong_state"
	case errors.Is(err, queue.ErrStale):
		return "replaced"
	}
	return "unavailable"
}

// replyErrorCode maps a channel's reply errors to the protocol's codes, or "".
func replyErrorCode(err error) string {
	switch {
	case errors.Is(err, channels.ErrReplyWindowClosed):
		return "reply_window_closed"
	case errors.Is(err, channels.ErrNoReplyPath):
		return "no_reply_path"
	case errors.Is(err, channels.ErrReplyRejected):
		return "reply_rejected"
	}
	return ""
}

// APIError is the JSON body of every error answer: a machine code and a
// message for people.
type APIError struct {
	Code    string `json:"error"`
	Message string `json:"message"`
}

// WriteError answers with status and a JSON error body.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, APIError{Code: code, Message: msg})
}

// WriteJSON answers with status and v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
