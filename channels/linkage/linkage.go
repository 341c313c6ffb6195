// Package linkage is 12345's link with the emergency lines 110, 119, 120
// and 122 (非警务警情"一键直转"、相互推送): a contact transferred to one of
// them is pushed to its webhook as signed JSON from a durable outbox until
// the line acknowledges it, and a non-police matter 110 pushes to us
// (POST /channels/110/pushes) becomes a contact on channel 110-transfer, so
// an agent calls the citizen back.
//
// Both ways are signed the same way (as the generic SMS push):
//
//	X-Lianxin-Timestamp: Unix seconds
//	X-Lianxin-Signature: sha256=hex(HMAC-SHA256(secret, timestamp + "." + body))
//
// A request whose timestamp is more than the window (default 5 minutes)
// from the receiver's clock is refused, so a captured push cannot be
// replayed later.
package linkage

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Headers of a signed push, both ways.
const (
	HeaderTimestamp = "X-Lianxin-Timestamp"
	HeaderSignature = "X-Lianxin-Signature"
)

// Lines are the emergency lines a contact can be transferred to.
var Lines = []string{"110", "119", "120", "122"}

// IsLine reports whether s is one of Lines.
func IsLine(s string) bool {
	for _, l := range Lines {
		if s == l {
			return true
		}
	}
	return false
}

// Target is one emergency line as the gateway reaches it: its SIP URI
// (reached through the outbound trunk), its webhook for the contact's data,
// and the secret shared with it (which also signs what it pushes to us).
type Target struct {
	// URI is where a call is transferred, e.g. "sip:120@10.1.2.3".
	URI string `yaml:"uri"`
	// Webhook receives the contact's data (https, or http inside the
	// hotline's network).
	Webhook string `yaml:"webhook"`
	// Secret signs pushes to the webhook and checks pushes from the line.
	Secret string `yaml:"secret"`
}

// Sign is the signature header value of body sent at timestamp (Unix
// seconds, as sent in HeaderTimestamp).
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// SignRequest sets the timestamp and signature headers of a push of body.
func SignRequest(h http.Header, secret []byte, now time.Time, body []byte) {
	ts := strconv.FormatInt(now.Unix(), 10)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, Sign(secret, ts, body))
}

// ErrSignature is a push whose timestamp or signature does not check out.
var ErrSignature = errors.New("linkage: bad signature")

// Verify checks a push's headers against body: the timestamp within window
// of now, and the signature made with secret.
func Verify(h http.Header, secret []byte, body []byte, now time.Time, window time.Duration) error {
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s: %q is not Unix seconds", ErrSignature, HeaderTimestamp, clip(ts))
	}
	skew := now.Sub(time.Unix(sec, 0))
	if skew < 0 {
		skew = -skew
	}
	if skew > window {
		return fmt.Errorf("%w: %s: %s is more than %s from our clock (a replay, or clock drift)", ErrSignature,
			HeaderTimestamp, ts, window)
	}
	if !hmac.Equal([]byte(h.Get(HeaderSignature)), []byte(Sign(secret, ts, body))) {
		return fmt.Errorf("%w: %s does not match the body (sha256=hex HMAC-SHA256 of timestamp.body)", ErrSignature,
			HeaderSignature)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
