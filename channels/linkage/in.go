package linkage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// Referral is the body of a push from 110: a non-police matter for 12345
// (POST /channels/110/pushes).
type Referral struct {
	// ID is 110's id of the push; the same id again is the same push (one
	// contact), and the same id with other content is refused (409)
	// [required, 1–128 characters].
	ID string `json:"id"`
	// Caller is the citizen's phone number, to be called back [required].
	Caller string `json:"caller"`
	Name   string `json:"name,omitempty"`
	// Text is what the citizen asked for [required].
	Text     string          `json:"text"`
	Location *queue.Location `json:"location,omitempty"`
	// Note is the 110 operator's note for the 12345 agent.
	Note string `json:"note,omitempty"`
	// Operator names the 110 operator (their number).
	Operator string `json:"operator,omitempty"`
	// Time the citizen called 110 (RFC 3339).
	Time string `json:"time,omitempty"`
}

// Limits on a referral.
const (
	maxReferralBytes = 64 << 10
	maxTextRunes     = 4000
	maxNoteRunes     = 2000
)

// ParseReferral reads and checks a referral's JSON: one object, no unknown
// fields, the required ones present, a caller that is a Chinese phone
// number. The error names the field.
func ParseReferral(body []byte) (Referral, error) {
	var r Referral
	if !utf8.Valid(body) {
		return r, errors.New("body: not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
			return r, fmt.Errorf("%s: unknown field", strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`))
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return r, fmt.Errorf("%s: must be a %s", te.Field, te.Type)
		}
		return r, fmt.Errorf("body: not a JSON object: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return r, errors.New("body: one JSON object expected")
	}
	r.ID = strings.TrimSpace(r.ID)
	r.Text = channels.Clean(r.Text)
	r.Note = channels.Clean(r.Note)
	r.Name = channels.Clean(r.Name)
	r.Operator = channels.Clean(r.Operator)
	switch {
	case r.ID == "" || len(r.ID) > 128:
		return r, errors.New("id: 1 to 128 characters required")
	case r.Caller == "":
		return r, errors.New("caller: required (the number to call back)")
	case r.Text == "":
		return r, errors.New("text: required (what the citizen asked for)")
	case utf8.RuneCountInString(r.Text) > maxTextRunes:
		return r, fmt.Errorf("text: at most %d characters", maxTextRunes)
	case utf8.RuneCountInString(r.Note) > maxNoteRunes:
		return r, fmt.Errorf("note: at most %d characters", maxNoteRunes)
	case utf8.RuneCountInString(r.Name) > 64 || utf8.RuneCountInString(r.Operator) > 64:
		return r, errors.New("name, operator: at most 64 characters")
	}
	e164, ok := channels.PhoneE164(r.Caller)
	if !ok {
		return r, fmt.Errorf("caller: %q is not a phone number (a Chinese one, or +country code and number)", clip(r.Caller))
	}
	r.Caller = e164
	if r.Time != "" {
		if _, err := time.Parse(time.RFC3339, r.Time); err != nil {
			return r, fmt.Errorf("time: %q is not RFC 3339", clip(r.Time))
		}
	}
	if l := r.Location; l != nil {
		l.Address = channels.Clean(l.Address)
		if l.Lat < -90 || l.Lat > 90 || l.Lng < -180 || l.Lng > 180 {
			return r, errors.New("location: lat within ±90, lng within ±180")
		}
	}
	return r, nil
}

// Enqueuer is what the handler needs of the queue.
type Enqueuer interface {
	Enqueue(ctx context.Context, in queue.Intake, idemKey string) (queue.Receipt, error)
}

// Inbound takes 110's pushes.
type Inbound struct {
	q      Enqueuer
	secret []byte
	window time.Duration
	queue  string
	log    *zap.Logger
	now    func() time.Time
}

// InboundOptions configure Inbound.
type InboundOptions struct {
	// Secret checks the pushes' signatures (the 110 target's secret).
	Secret string
	// Window is how far a push's timestamp may be from our clock [5m].
	Window time.Duration
	// Queue the referrals wait in [required].
	Queue string
	// Now is the clock [time.Now].
	Now func() time.Time
}

// NewInbound makes the handler of 110's pushes.
func NewInbound(q Enqueuer, o InboundOptions, log *zap.Logger) *Inbound {
	if o.Window <= 0 {
		o.Window = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Inbound{q: q, secret: []byte(o.Secret), window: o.Window, queue: o.Queue, log: log, now: o.Now}
}

// Register adds POST /channels/110/pushes to mux.
func (h *Inbound) Register(mux *http.ServeMux) { mux.Handle("POST /channels/110/pushes", h) }

// ServeHTTP takes one push: 200 with the tracking number (also for a
// repeated push), 400 bad body, 401 bad signature or stale timestamp, 409
// an id reused for other content, 413 too large, 503 not stored (send again).
func (h *Inbound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReferralBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body: larger than %d bytes", maxReferralBytes))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "bad_body", "body: "+err.Error())
		return
	}
	if len(h.secret) == 0 {
		writeError(w, http.StatusServiceUnavailable, "not_configured", "no secret is configured for 110's pushes")
		return
	}
	if err := Verify(r.Header, h.secret, body, h.now(), h.window); err != nil {
		h.log.Warn("110 push refused", zap.Error(err))
		writeError(w, http.StatusUnauthorized, "bad_signature", strings.TrimPrefix(err.Error(), ErrSignature.Error()+": "))
		return
	}
	ref, err := ParseReferral(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_push", err.Error())
		return
	}
	rc, err := h.q.Enqueue(r.Context(), h.intake(ref), "110:"+ref.ID)
	switch {
	case errors.Is(err, queue.ErrIdempotencyConflict):
		writeError(w, http.StatusConflict, "id_reused", fmt.Sprintf("id %q was pushed before with other content (contact %s)",
			clip(ref.ID), rc.TrackingNo))
		return
	case errors.Is(err, queue.ErrInvalid):
		writeError(w, http.StatusBadRequest, "bad_push", err.Error())
		return
	case err != nil:
		h.log.Warn("110 push not stored", zap.Error(err))
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "not stored; send it again")
		return
	}
	h.log.Info("110 push queued", zap.String("contact", rc.TrackingNo), zap.Bool("duplicate", rc.Duplicate),
		zap.String("caller", channels.MaskPhone(ref.Caller)))
	writeJSON(w, http.StatusOK, map[string]any{"tracking_no": rc.TrackingNo, "duplicate": rc.Duplicate})
}

func (h *Inbound) intake(r Referral) queue.Intake {
	note := r.Note
	if r.Operator != "" {
		note = strings.TrimSpace(note + "（110接警员 " + r.Operator + "）")
	}
	subject := []rune(r.Text)
	if len(subject) > 24 {
		subject = append(subject[:24], '…')
	}
	in := queue.Intake{Channel: queue.ChannelTransfer, Line: "110", LineName: "110报警服务台转办",
		Citizen: queue.Citizen{Address: r.Caller, Phone: r.Caller, Name: r.Name}, Subject: "110转办：" + string(subject),
		Text: r.Text, Location: r.Location, RequestType: channels.GuessRequestType(r.Text), Queue: h.queue,
		OperatorNote: note}
	if t, err := time.Parse(time.RFC3339, r.Time); err == nil {
		in.ReceivedAt = t
	}
	return in
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": code, "message": msg})
}
