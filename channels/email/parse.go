package email

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// maxDepth bounds how deeply multiparts may nest.
const maxDepth = 10

// maxHeaderBytes bounds the message header.
const maxHeaderBytes = 256 << 10

// letter is what one e-mail says, decoded to UTF-8.
type letter struct {
	MessageID string
	Subject   string
	From      *mail.Address
	// Auto is true for mail no one should auto-reply to (RFC 3834):
	// Auto-Submitted other than "no", Precedence bulk, list or junk.
	Auto bool
	// Text is the text/plain body, or the HTML read as text.
	Text string
	// HTML is the sanitised text/html body, "" if none.
	HTML        string
	Attachments []queue.Attachment
	// Parts counts the MIME parts read.
	Parts int
	// staged are the files of Attachments (and of the texts intake keeps
	// as attachments), committed once a contact holds them.
	staged []*blobstore.Staged
}

// commit stores the letter's staged files (again: it is idempotent).
func (l *letter) commit() error {
	for _, s := range l.staged {
		if err := s.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// discard drops what was not committed.
func (l *letter) discard() {
	for _, s := range l.staged {
		s.Discard()
	}
}

// parser reads one message, storing attachments as it goes.
type parser struct {
	ctx    context.Context
	s      *Server
	srcErr func() error // the error reading the sender's bytes failed with
	l      *letter
	plain  []string
	html   []string
	// textBytes counts the text read into memory (maxTextBytes at most).
	textBytes int64
	// unreadable notes each part whose content could not be decoded (bad
	// base64 or quoted-printable): the letter is kept with its readable
	// parts, and the agent is told what is missing.
	unreadable []string
}

// unreadablePart notes a part that could not be decoded. The sender's own
// broken transfer still fails the letter (p.fail).
func (p *parser) unreadablePart(what string, err error) error {
	if src := p.srcErr(); src != nil {
		return src
	}
	p.s.log.Info("mail part not decodable, kept the rest", zap.String("part", what), zap.Error(err))
	p.unreadable = append(p.unreadable, what)
	return nil
}

// parse reads a message from r. srcErr tells the sender's broken or
// oversized transfer (passed through as it is) from bad MIME (ErrMalformed).
func (s *Server) parse(ctx context.Context, r io.Reader, srcErr func() error) (*letter, error) {
	p := &parser{ctx: ctx, s: s, srcErr: srcErr, l: &letter{}}
	e, err := message.ReadWithOptions(r, &message.ReadOptions{MaxHeaderBytes: maxHeaderBytes})
	if err != nil && e == nil {
		return nil, p.fail(malformed("bad message header: %v", err))
	}
	h := e.Header
	p.l.MessageID = messageID(h.Get("Message-Id"))
	p.l.Subject = headerText(h.Get("Subject"))
	p.l.From, _ = headerAddress(h.Get("From"))
	auto := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted")))
	prec := strings.ToLower(strings.TrimSpace(h.Get("Precedence")))
	p.l.Auto = (auto != "" && auto != "no") || prec == "bulk" || prec == "list" || prec == "junk"
	if err := p.walk(e, 0); err != nil {
		p.l.discard()
		return nil, err
	}
	for _, what := range p.unreadable {
		p.plain = append(p.plain, "【系统提示】"+what+"的编码已损坏，无法读取，未能保存，请联系来信人重新发送。")
	}
	p.l.Text = strings.Join(p.plain, "\n\n")
	if len(p.html) > 0 {
		p.l.HTML = p.s.policy.Sanitize(strings.Join(p.html, "\n<hr>\n"))
		if strings.TrimSpace(p.l.Text) == "" {
			p.l.Text = htmlText(p.l.HTML)
		}
	}
	return p.l, nil
}

// fail prefers the transfer's own error to what it caused in the parser.
func (p *parser) fail(err error) error {
	if src := p.srcErr(); src != nil {
		return src
	}
	return err
}

func (p *parser) walk(e *message.Entity, depth int) error {
	p.l.Parts++
	if p.l.Parts > p.s.o.MaxParts {
		return malformed("more than %d MIME parts", p.s.o.MaxParts)
	}
	if mr := e.MultipartReader(); mr != nil {
		if depth >= maxDepth {
			return malformed("multiparts nested deeper than %d", maxDepth)
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			// go-message reports the end of the input before a closing
			// boundary as "multipart: NextPart: EOF", not wrapped: the
			// message simply ends there, as mail readers take it.
			if err != nil && p.srcErr() == nil && strings.HasSuffix(err.Error(), "EOF") {
				return nil
			}
			if err != nil && part == nil {
				return p.fail(malformed("bad multipart (part %d): %v", p.l.Parts+1, err))
			}
			if err := p.walk(part, depth+1); err != nil {
				return err
			}
		}
	}
	mt, params, err := e.Header.ContentType()
	if err != nil || mt == "" {
		mt = "text/plain" // RFC 2045 §5.2
	}
	disp, dparams, _ := e.Header.ContentDisposition()
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if (mt == "text/plain" || mt == "text/html") && disp != "attachment" && name == "" {
		return p.text(e, mt)
	}
	return p.attach(e, mt, headerText(name))
}

// maxTextPartBytes is how much of one text part is read into memory, and
// maxTextBytes how much of all of them: a longer part is kept whole as an
// attachment, written to disk as it arrives, and its beginning as the text.
// A big letter so costs the node a bounded amount of memory (issue 7 #5).
const (
	maxTextPartBytes = 1 << 20
	maxTextBytes     = 2 << 20
)

func (p *parser) text(e *message.Entity, mt string) error {
	src := p.body(e)
	budget := min(int64(maxTextPartBytes), maxTextBytes-p.textBytes)
	b, err := io.ReadAll(io.LimitReader(src, budget+1))
	if err != nil {
		return p.unreadablePart(fmt.Sprintf("第%d部分正文（%s）", p.l.Parts, mt), err)
	}
	if int64(len(b)) > budget {
		return p.bigText(mt, b, src)
	}
	p.textBytes += int64(len(b))
	s := toUTF8(b)
	if mt == "text/html" {
		p.html = append(p.html, s)
	} else if s = channels.Clean(s); s != "" {
		p.plain = append(p.plain, s)
	}
	return nil
}

// bigText keeps a text part too long to hold in memory as an attachment
// (head and the rest of the part, streamed to disk) and the beginning of a
// plain text as the letter's text, with a note naming the attachment.
func (p *parser) bigText(mt string, head []byte, rest io.Reader) error {
	if len(p.l.Attachments) >= p.s.o.MaxAttachments {
		return tooLarge("more than %d attachments (a long text part is kept as one)", p.s.o.MaxAttachments)
	}
	ext := ".txt"
	if mt == "text/html" {
		ext = ".html"
	}
	name := fmt.Sprintf("正文-%d%s", p.l.Parts, ext)
	body := &errReader{r: io.MultiReader(bytes.NewReader(head), rest)}
	staged, err := p.s.blobs.Stage(p.ctx, body, p.s.o.MaxAttachmentBytes)
	if err == nil {
		p.l.staged = append(p.l.staged, staged)
	}
	switch {
	case errors.Is(err, blobstore.ErrTooLarge):
		return tooLarge("the %s body is larger than %d bytes", mt, p.s.o.MaxAttachmentBytes)
	case body.err != nil:
		return p.unreadablePart(fmt.Sprintf("第%d部分正文（%s）", p.l.Parts, mt), body.err)
	case err != nil:
		return errors.Join(ErrUnavailable, err)
	}
	p.l.Attachments = append(p.l.Attachments, queue.Attachment{Name: name, Type: mt, Size: staged.Size, SHA256: staged.SHA})
	note := "（此部分正文过长，全文见附件 " + name + "）"
	if mt == "text/plain" {
		if s := channels.Clean(cut(toUTF8(wholeRunes(head)), p.s.o.MaxTextRunes)); s != "" {
			note = s + "\n" + note
		}
	}
	p.plain = append(p.plain, note)
	return nil
}

// wholeRunes drops a UTF-8 sequence cut at the end of b, so that a text
// cut at a byte count still reads as UTF-8.
func wholeRunes(b []byte) []byte {
	for k := 0; k < utf8.UTFMax && k < len(b); k++ {
		if utf8.Valid(b[:len(b)-k]) {
			return b[:len(b)-k]
		}
	}
	return b
}

func (p *parser) attach(e *message.Entity, mt, name string) error {
	if len(p.l.Attachments) >= p.s.o.MaxAttachments {
		return tooLarge("more than %d attachments", p.s.o.MaxAttachments)
	}
	name = cleanFileName(name, len(p.l.Attachments)+1)
	var head [512]byte
	src := p.body(e)
	n, err := io.ReadFull(src, head[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return p.unreadablePart("附件 "+name+" ", err)
	}
	if n == 0 {
		return nil // nothing to keep
	}
	typ := http.DetectContentType(head[:n])
	if typ == "application/octet-stream" && mt != "" {
		typ = mt // the bytes say nothing: keep what the sender says
	}
	body := &errReader{r: io.MultiReader(bytes.NewReader(head[:n]), src)}
	staged, err := p.s.blobs.Stage(p.ctx, body, p.s.o.MaxAttachmentBytes)
	if err == nil {
		p.l.staged = append(p.l.staged, staged)
	}
	switch {
	case errors.Is(err, blobstore.ErrTooLarge):
		return tooLarge("attachment %s is larger than %d bytes", name, p.s.o.MaxAttachmentBytes)
	case body.err != nil:
		return p.unreadablePart("附件 "+name+" ", body.err)
	case err != nil:
		return errors.Join(ErrUnavailable, err)
	}
	p.l.Attachments = append(p.l.Attachments, queue.Attachment{Name: name, Type: typ, Size: staged.Size, SHA256: staged.SHA})
	return nil
}

// body reads a part; a part cut short by the end of the message (no
// closing boundary) ends there, as mail readers take it.
func (p *parser) body(e *message.Entity) io.Reader {
	return &truncOK{r: e.Body, src: p.srcErr}
}

type truncOK struct {
	r   io.Reader
	src func() error
}

func (t *truncOK) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	if errors.Is(err, io.ErrUnexpectedEOF) && t.src() == nil {
		err = io.EOF
	}
	return n, err
}

// cleanFileName keeps the last element of a sender's file name, printable
// and at most 120 characters; n names a part that has none.
func cleanFileName(s string, n int) string {
	s = channels.Clean(strings.ReplaceAll(s, "\\", "/"))
	s = path.Base(s)
	if s == "." || s == "/" || s == "" {
		s = "attachment-" + strconv.Itoa(n)
	}
	if utf8.RuneCountInString(s) > 120 {
		s = string([]rune(s)[:120])
	}
	return s
}

// errReader remembers the error a read failed with, so that a broken
// message is told apart from a failing blob store.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}
