package sms

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// Headers of the generic push. The signature is
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + raw body)): the
// timestamp is signed too, or a captured push could be replayed with a
// fresh one.
const (
	HeaderTimestamp = "X-Lianxin-Timestamp" // Unix seconds
	HeaderSignature = "X-Lianxin-Signature"
)

// GenericSMS is the body of a generic push.
type GenericSMS struct {
	// ID is the sender's message id; a push repeated with it is not stored
	// twice [required].
	ID   string `json:"id"`
	From string `json:"from"`           // the citizen's number [required]
	To   string `json:"to,omitempty"`   // the number it was sent to
	Text string `json:"text"`           // [required]
	Time string `json:"time,omitempty"` // RFC 3339
}

// Sign returns the signature header value for a generic push.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// generic serves POST /channels/sms/generic.
func (g *Gateway) generic(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) {
		st := status(err)
		if st == http.StatusServiceUnavailable {
			g.log.Warn("generic push not stored", zap.Error(err))
			writeJSON(w, st, map[string]string{"error": "unavailable", "message": "not stored; send it again"})
			return
		}
		writeJSON(w, st, map[string]string{"error": http.StatusText(st), "message": err.Error()})
	}
	body, err := g.readBody(w, r)
	if err != nil {
		fail(err)
		return
	}
	if err := g.verify(r.Header, body); err != nil {
		fail(err)
		return
	}
	m, err := parseGeneric(body)
	if err != nil {
		fail(err)
		return
	}
	rc, err := g.take(r.Context(), m)
	if err != nil {
		fail(err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tracking_no": rc.TrackingNo, "duplicate": rc.Duplicate,
		"joined": rc.Joined, "message": ack(rc)})
}

// verify checks the timestamp against replay and the signature in
// constant time.
func (g *Gateway) verify(h http.Header, body []byte) error {
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return refuse(http.StatusUnauthorized, "%s: %s is not Unix seconds", HeaderTimestamp, quote(ts))
	}
	skew := g.now().Sub(time.Unix(sec, 0))
	if skew < 0 {
		skew = -skew
	}
	if skew > g.c.Generic.MaxSkew {
		return refuse(http.StatusUnauthorized, "%s: %s is more than %s from our clock (replay or clock drift)",
			HeaderTimestamp, ts, g.c.Generic.MaxSkew)
	}
	got := h.Get(HeaderSignature)
	want := Sign([]byte(g.c.Generic.Secret), ts, body)
	if !hmac.Equal([]byte(got), []byte(want)) {
		return refuse(http.StatusUnauthorized, "%s: does not match the body (sha256=hex HMAC of timestamp.body)",
			HeaderSignature)
	}
	return nil
}

func parseGeneric(body []byte) (inbound, error) {
	var s GenericSMS
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
			return inbound{}, refuse(http.StatusBadRequest, "%s: unknown field",
				strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`))
		}
		return inbound{}, jsonError("", err)
	}
	if dec.More() {
		return inbound{}, refuse(http.StatusBadRequest, "body: one JSON object expected")
	}
	switch {
	case s.ID == "" || len(s.ID) > 128:
		return inbound{}, refuse(http.StatusBadRequest, "id: 1 to 128 characters required")
	case strings.TrimSpace(s.Text) == "":
		return inbound{}, refuse(http.StatusBadRequest, "text: required")
	}
	if _, _, err := address(s.From); err != nil {
		return inbound{}, refuse(http.StatusBadRequest, "from: %v", err)
	}
	m := inbound{provider: "generic", idem: "sms:generic:" + s.ID, from: s.From, to: s.To, text: s.Text}
	if s.Time != "" {
		t, err := time.Parse(time.RFC3339, s.Time)
		if err != nil {
			return inbound{}, refuse(http.StatusBadRequest, "time: %s is not RFC 3339", quote(s.Time))
		}
		m.at = t
	}
	return m, nil
}

// ack is what a citizen's SMS is acknowledged with.
func ack(rc queue.Receipt) string {
	if rc.Joined {
		return channels.JoinedAck(rc.TrackingNo)
	}
	return channels.Ack(rc.TrackingNo)
}
