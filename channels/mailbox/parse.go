package mailbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/queue"
)

// letter is what a citizen sends. The JSON body and the multipart form use
// the same names.
type letter struct {
	Name        string `json:"name"`
	Phone       string `json:"phone"`
	Email       string `json:"email"`
	Subject     string `json:"subject"`
	Text        string `json:"text"`
	Address     string `json:"address"`
	RequestType string `json:"request_type"`

	attachments []queue.Attachment
}

// read parses the request body as JSON or as a multipart form.
func (h *Handler) read(w http.ResponseWriter, r *http.Request, st *staging) (*letter, error) {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, &fieldError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
			field: "Content-Type", msg: "must be application/json or multipart/form-data"}
	}
	switch ct {
	case "application/json":
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.lim.jsonLimit()))
		if err != nil {
			return nil, err
		}
		// encoding/json would quietly turn bad bytes into U+FFFD: refuse
		// them instead, so a sender in another charset learns of it.
		if !utf8.Valid(body) {
			return nil, badField("body", "not valid UTF-8: send JSON in UTF-8")
		}
		var l letter
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, jsonError(err)
		}
		if dec.More() {
			return nil, badField("body", "one JSON object expected")
		}
		return &l, nil
	case "multipart/form-data":
		if params["boundary"] == "" {
			return nil, badField("Content-Type", "multipart boundary missing")
		}
		if !h.uploads.TryAcquire() {
			return nil, errBusy
		}
		defer h.uploads.Release()
		return h.readForm(r, multipart.NewReader(r.Body, params["boundary"]), st)
	}
	return nil, &fieldError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
		field: "Content-Type", msg: "must be application/json or multipart/form-data, not " + ct}
}

func jsonError(err error) error {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return badField(ute.Field, "must be a %s", ute.Type.String())
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return badField(strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`), "unknown field")
	}
	return badField("body", "not valid JSON: %v", err)
}

const maxFieldBytes = 256 << 10

// readForm streams a multipart form: text fields into the letter, files
// straight into staging in the blob store (committed only once the letter
// is accepted), within the limits.
func (h *Handler) readForm(r *http.Request, mr *multipart.Reader, st *staging) (*letter, error) {
	l := &letter{}
	fields := map[string]*string{"name": &l.Name, "phone": &l.Phone, "email": &l.Email, "subject": &l.Subject,
		"text": &l.Text, "address": &l.Address, "request_type": &l.RequestType}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return l, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, err
			}
			return nil, badField("body", "bad multipart form: %v", err)
		}
		name := p.FormName()
		if p.FileName() != "" {
			if len(l.attachments) >= h.lim.MaxAttachments {
				return nil, &fieldError{status: http.StatusRequestEntityTooLarge, code: "too_many_attachments",
					field: name, msg: "at most " + itoa(int64(h.lim.MaxAttachments)) + " attachments"}
			}
			a, err := h.store(r, p, st)
			if err != nil {
				return nil, err
			}
			l.attachments = append(l.attachments, a)
			continue
		}
		dst, ok := fields[name]
		if !ok {
			return nil, badField(name, "unknown field")
		}
		b, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, err
			}
			return nil, badField(name, "unreadable: %v", err)
		}
		if len(b) > maxFieldBytes {
			return nil, badField(name, "too long")
		}
		*dst = string(b)
	}
}

func (h *Handler) store(r *http.Request, p *multipart.Part, st *staging) (queue.Attachment, error) {
	name := cleanFileName(p.FileName())
	var head [512]byte
	n, err := io.ReadFull(p, head[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return queue.Attachment{}, err
		}
		return queue.Attachment{}, badField(p.FormName(), "unreadable file: %v", err)
	}
	// The type is what the bytes are, not what the sender says.
	typ := http.DetectContentType(head[:n])
	src := &partReader{r: p}
	staged, err := h.blobs.Stage(r.Context(), io.MultiReader(bytes.NewReader(head[:n]), src), h.lim.MaxAttachmentBytes)
	if err == nil {
		st.add(staged)
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, blobstore.ErrTooLarge):
		return queue.Attachment{}, &fieldError{status: http.StatusRequestEntityTooLarge, code: "attachment_too_large",
			field: p.FormName(), msg: name + " is larger than " + itoa(h.lim.MaxAttachmentBytes) + " bytes"}
	case errors.As(src.err, &mbe):
		return queue.Attachment{}, src.err
	case src.err != nil:
		// The sender's bytes broke off or were malformed: their fault, not ours.
		return queue.Attachment{}, badField(p.FormName(), "bad multipart form: %v", src.err)
	case err != nil:
		return queue.Attachment{}, err
	}
	if staged.Size == 0 {
		return queue.Attachment{}, badField(p.FormName(), "%s is empty", name)
	}
	return queue.Attachment{Name: name, Type: typ, Size: staged.Size, SHA256: staged.SHA}, nil
}

// staging holds one request's staged attachments: committed once the letter
// is accepted (new or a duplicate), discarded if it is refused.
type staging struct{ files []*blobstore.Staged }

func (st *staging) add(s *blobstore.Staged) { st.files = append(st.files, s) }

// commit stores every staged file; the first error is returned.
func (st *staging) commit() error {
	var first error
	for _, s := range st.files {
		if err := s.Commit(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// discard drops what was not committed (nothing after commit).
func (st *staging) discard() {
	for _, s := range st.files {
		s.Discard()
	}
}

func cleanFileName(s string) string {
	s = channels.Clean(strings.ReplaceAll(s, "\\", "/"))
	s = path.Base(s)
	if s == "." || s == "/" || s == "" {
		s = "attachment"
	}
	if utf8.RuneCountInString(s) > 120 {
		s = string([]rune(s)[:120])
	}
	return s
}

// intake checks the letter and turns it into an intake for box's queue.
func (l *letter) intake(box channels.Mailbox, lim Limits) (queue.Intake, error) {
	in := queue.Intake{Channel: queue.ChannelMailbox, Line: box.ID, LineName: box.Name, Queue: box.Queue,
		Attachments: l.attachments}
	for field, v := range map[string]string{"name": l.Name, "phone": l.Phone, "email": l.Email, "subject": l.Subject,
		"text": l.Text, "address": l.Address, "request_type": l.RequestType} {
		if !utf8.ValidString(v) {
			return in, badField(field, "not valid UTF-8 text")
		}
	}
	in.Text = channels.Clean(l.Text)
	if in.Text == "" {
		return in, badField("text", "required: what is the letter about?")
	}
	if n := utf8.RuneCountInString(in.Text); n > lim.MaxTextRunes {
		return in, badField("text", "too long: %d characters, at most %d", n, lim.MaxTextRunes)
	}
	in.Subject = channels.Clean(l.Subject)
	if utf8.RuneCountInString(in.Subject) > 200 {
		return in, badField("subject", "too long: at most 200 characters")
	}
	if in.Subject == "" {
		in.Subject = firstLine(in.Text, 30)
	}
	in.Citizen.Name = channels.Clean(l.Name)
	if utf8.RuneCountInString(in.Citizen.Name) > 50 {
		return in, badField("name", "too long: at most 50 characters")
	}
	if l.Phone != "" {
		p, ok := channels.PhoneE164(l.Phone)
		if !ok {
			return in, badField("phone", "not a phone number: a Chinese mobile or landline with its area code, or another country's number after + and its country code")
		}
		in.Citizen.Phone = p
	}
	if l.Email != "" {
		a, err := mail.ParseAddress(l.Email)
		if err != nil || len(a.Address) > 254 {
			return in, badField("email", "not an e-mail address")
		}
		in.Citizen.Email = a.Address
	}
	if in.Citizen.Phone == "" && in.Citizen.Email == "" {
		return in, badField("phone", "a phone number or an e-mail address is required, so that the answer can reach you")
	}
	in.Citizen.Address = in.Citizen.Phone
	if in.Citizen.Address == "" {
		in.Citizen.Address = in.Citizen.Email
	}
	if addr := channels.Clean(l.Address); addr != "" {
		if utf8.RuneCountInString(addr) > 200 {
			return in, badField("address", "too long: at most 200 characters")
		}
		in.Location = &queue.Location{Address: addr}
	}
	if l.RequestType != "" { // else channels.Take guesses it
		in.RequestType = queue.RequestType(l.RequestType)
		if !in.RequestType.Valid() {
			return in, badField("request_type", "must be one of consultation, help, complaint, report, suggestion, praise, other")
		}
	}
	return in, nil
}

func firstLine(s string, n int) string {
	line, _, _ := strings.Cut(s, "\n")
	if utf8.RuneCountInString(line) > n {
		return string([]rune(line)[:n]) + "…"
	}
	return line
}

// partReader remembers the error reading a part failed with, so that a
// broken upload is told apart from a failing blob store.
type partReader struct {
	r   io.Reader
	err error
}

func (p *partReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		p.err = err
	}
	return n, err
}
