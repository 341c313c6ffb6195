package email

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"
)

// Errors of a letter, each answered with its own SMTP reply (see smtpError).
var (
	// ErrTooLarge: the letter, one attachment or its text passes a limit.
	ErrTooLarge = errors.New("email: too large")
	// ErrMalformed: the message cannot be read as MIME.
	ErrMalformed = errors.New("email: malformed message")
	// ErrUnavailable: the letter could not be stored (Redis, blob store);
	// the sender should retry.
	ErrUnavailable = errors.New("email: cannot store the letter now")
	// ErrRelay: the relay did not take our mail.
	ErrRelay = errors.New("email: relay")

	errMissingParams = errors.New("email: Params.Lookup, Params.Queue and Params.Blobs are required")
	errAbandoned     = errors.New("email: the letter was abandoned before it was read whole")
)

// letterError is a letter refused for a reason the sender should read.
type letterError struct {
	kind error
	msg  string
}

func (e *letterError) Error() string { return e.msg }
func (e *letterError) Unwrap() error { return e.kind }

func tooLarge(format string, args ...any) error {
	return &letterError{kind: ErrTooLarge, msg: fmt.Sprintf(format, args...)}
}

func malformed(format string, args ...any) error {
	return &letterError{kind: ErrMalformed, msg: fmt.Sprintf(format, args...)}
}

// Replies to the sending server, in one place.
var (
	replyUnknownRcpt = func(addr string) *smtp.SMTPError {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: replyText("No such mailbox: " + addr + " is not a mailbox of the 12345 directory")}
	}
	replyBadRcpt = func(addr string) *smtp.SMTPError {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3},
			Message: replyText("Bad recipient address syntax: " + addr)}
	}
	replyNoSender = &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1},
		Message: "Send MAIL FROM first"}
	replyBusy = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 2},
		Message: "Too many letters being received, try again later"}
	replyTooManyConns = "421 4.3.2 Too many connections, try again later\r\n"
)

// smtpError maps what went wrong with a letter to the reply its sender's
// server gets: 552 5.3.4 for size, 554 5.6.0 for bad MIME, 500 5.5.2 for a
// line too long, 451 4.3.0 for anything that may work later.
func smtpError(err error) *smtp.SMTPError {
	var se *smtp.SMTPError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, smtp.ErrDataTooLarge):
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
			Message: "Message size exceeds the fixed maximum message size"}
	case errors.Is(err, ErrTooLarge):
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: replyText(err.Error())}
	case errors.Is(err, ErrMalformed):
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: replyText(err.Error())}
	case errors.Is(err, smtp.ErrTooLongLine):
		return &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "Line too long"}
	case errors.As(err, &se):
		return se
	}
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Temporary failure storing the letter, try again later"}
}

// replyText makes s fit in one SMTP reply line: printable ASCII (other
// characters escaped as \uXXXX), at most 300 bytes.
func replyText(s string) string {
	s = strconv.QuoteToASCII(strings.Join(strings.Fields(s), " "))
	s = s[1 : len(s)-1]
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
