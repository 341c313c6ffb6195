// Package mailbox takes letters to the leader mailboxes (领导信箱): web
// letters posted as JSON or as a multipart form with attachments. Each letter
// becomes one contact in the queue of its mailbox.
package mailbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// Enqueuer is the part of the queue letters need (channels.Take's).
type Enqueuer = channels.Receiver

// Blobs stores attachments by content hash. A letter stages its
// attachments as it is read and commits them only once it is accepted: a
// refused letter leaves no file behind.
type Blobs interface {
	Stage(ctx context.Context, r io.Reader, limit int64) (*blobstore.Staged, error)
}

// Limits bound a letter.
type Limits struct {
	MaxAttachments     int
	MaxAttachmentBytes int64
	MaxLetterBytes     int64
	MaxTextRunes       int
	// MaxUploads bounds the multipart letters being received at once (their
	// attachments stream to disk); a letter past it is answered 503 with
	// Retry-After at once. 0: no bound.
	MaxUploads int
}

// jsonLimit bounds a JSON letter's body: it carries no attachments, only
// fields, so it is read whole, and a few hundred KiB hold the longest text
// even with every character escaped (\uXXXX\uXXXX is 12 bytes a rune).
func (l Limits) jsonLimit() int64 {
	return min(l.MaxLetterBytes, 64<<10+12*int64(l.MaxTextRunes))
}

// Handler serves POST /channels/mailbox/{mailbox}/letters.
type Handler struct {
	lookup func(id string) (channels.Mailbox, bool)
	q      Enqueuer
	blobs  Blobs
	lim    Limits
	log    *zap.Logger
	now    func() time.Time
	// uploads bounds the multipart letters being read at once.
	uploads *channels.Slots
}

// NewHandler returns the letters handler.
func NewHandler(lookup func(id string) (channels.Mailbox, bool), q Enqueuer, blobs Blobs, lim Limits, log *zap.Logger) *Handler {
	if log == nil {
		log = zap.NewNop()
	}
	return &Handler{lookup: lookup, q: q, blobs: blobs, lim: lim, log: log, now: time.Now,
		uploads: channels.NewSlots(lim.MaxUploads)}
}

// Register adds the handler's route to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("POST /channels/mailbox/{mailbox}/letters", h)
}

// Seer is what a queue offers for the implicit idempotency key of a letter
// sent without an Idempotency-Key (queue.Queue.Seen).
type Seer interface {
	Seen(ctx context.Context, name string, window time.Duration) (string, error)
}

// ImplicitWindow: a letter without an Idempotency-Key, with the same
// sender and content as one sent to the same mailbox less than this long
// before, is that letter sent again.
const ImplicitWindow = 10 * time.Minute

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 200

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	box, ok := h.lookup(r.PathValue("mailbox"))
	if !ok {
		writeError(w, http.StatusNotFound, "unknown_mailbox", "no mailbox "+quote(r.PathValue("mailbox")))
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey || strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		writeError(w, http.StatusBadRequest, "bad_idempotency_key", "Idempotency-Key: at most 200 printable ASCII characters")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.lim.MaxLetterBytes)
	st := &staging{}
	defer st.discard() // a refused letter's attachments go; committed ones stay
	l, err := h.read(w, r, st)
	if err != nil {
		h.fail(w, err)
		return
	}
	in, err := l.intake(box, h.lim)
	if err != nil {
		h.fail(w, err)
		return
	}
	in.ReceivedAt = h.now()
	idem := ""
	if key != "" {
		idem = "mailbox:" + box.ID + ":" + key
	} else if seer, ok := h.q.(Seer); ok {
		// No Idempotency-Key: the same letter from the same sender to the
		// same mailbox within ImplicitWindow of the first is the citizen
		// sending again (after a 503, a timeout), not a second letter. The
		// name holds all the letter holds but its time (queue.IntakeHash),
		// so one that differs in anything is another letter, not a reuse
		// of a key the citizen never sent.
		name := "mailbox:" + box.ID + ":" + queue.IntakeHash(in)
		token, err := seer.Seen(r.Context(), name, ImplicitWindow)
		if err != nil {
			h.log.Warn("letter not queued", zap.String("mailbox", box.ID), zap.Error(err))
			w.Header().Set("Retry-After", "5")
			writeError(w, http.StatusServiceUnavailable, "unavailable", "the letter could not be stored; send it again")
			return
		}
		idem = name + ":implicit:" + token
	}
	tk, err := channels.Take(r.Context(), h.q, channels.Request{In: in, Key: idem})
	rc := tk.Receipt
	switch {
	case errors.Is(err, queue.ErrIdempotencyConflict):
		writeError(w, http.StatusConflict, "idempotency_key_reused",
			"Idempotency-Key was used for a different letter ("+rc.TrackingNo+")")
		return
	case errors.Is(err, queue.ErrInvalid):
		writeError(w, http.StatusBadRequest, "bad_letter", err.Error())
		return
	case err != nil:
		h.log.Warn("letter not queued", zap.String("mailbox", box.ID), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the letter could not be stored; send it again")
		return
	}
	// Accepted (new or a duplicate of one accepted): its attachments are
	// stored now. If that fails the citizen sends again with the same key
	// and the duplicate commits them.
	if err := st.commit(); err != nil {
		h.log.Error("attachments not stored", zap.String("mailbox", box.ID), zap.String("contact", rc.TrackingNo), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the letter could not be stored; send it again")
		return
	}
	h.log.Info("letter queued", zap.String("mailbox", box.ID), zap.String("contact", rc.TrackingNo),
		zap.Bool("duplicate", rc.Duplicate), zap.String("phone", channels.MaskPhone(in.Citizen.Phone)),
		zap.String("email", channels.MaskEmail(in.Citizen.Email)), zap.Int("attachments", len(in.Attachments)))
	writeJSON(w, http.StatusAccepted, map[string]any{
		"tracking_no": rc.TrackingNo,
		"duplicate":   rc.Duplicate,
		"status_url":  "/api/contacts/" + rc.TrackingNo,
		"message":     tk.Ack, // with what to do now, for an emergency
		"emergency":   tk.Emergency,
	})
}

// fieldError is a bad input, named by its field.
type fieldError struct {
	status int
	code   string
	field  string
	msg    string
}

func (e *fieldError) Error() string {
	if e.field == "" {
		return e.msg
	}
	return e.field + ": " + e.msg
}

// errBusy: every upload slot is taken.
var errBusy = errors.New("mailbox: too many uploads at once")

func badField(field, format string, args ...any) error {
	return &fieldError{status: http.StatusBadRequest, code: "bad_field", field: field, msg: fmt.Sprintf(format, args...)}
}

func (h *Handler) fail(w http.ResponseWriter, err error) {
	var fe *fieldError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &fe):
		writeJSON(w, fe.status, map[string]string{"error": fe.code, "field": fe.field, "message": fe.Error()})
	case errors.As(err, &mbe) && mbe.Limit < h.lim.MaxLetterBytes:
		w.Header().Set("Connection", "close") // the rest is not read
		writeError(w, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("a letter sent as JSON is at most %d bytes; send attachments as multipart/form-data", mbe.Limit))
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("the letter is larger than %d bytes", h.lim.MaxLetterBytes))
	case errors.Is(err, errBusy):
		// The body is not read: close the connection rather than let the
		// server wait for the rest of it.
		w.Header().Set("Connection", "close")
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusServiceUnavailable, "busy",
			"too many letters with attachments are being received; send it again in a minute")
	default:
		h.log.Warn("letter failed", zap.Error(err))
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the letter could not be stored; send it again")
	}
}
