package queue

import (
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Errors a caller can act on. Anything else from the queue means Redis could
// not be reached or answered badly: the caller should fail temporarily
// (HTTP 503, SMTP 451, SMPP temporary error) so that the sender retries.
var (
	ErrNotFound            = errors.New("queue: no such contact")
	ErrNotYours            = errors.New("queue: contact is not offered to or held by this agent")
	ErrWrongState          = errors.New("queue: contact is not in a state that allows this")
	ErrStale               = errors.New("queue: this desk session is no longer current")
	ErrIdempotencyConflict = errors.New("queue: idempotency key reused with a different request")
	ErrInvalid             = errors.New("queue: invalid request")
	// ErrNotReplicated: the intake is in the primary but WAIT did not see it
	// reach Options.WaitReplicas replicas in time, so a failover now could
	// lose it. Temporary: the provider is told to retry; the retry finds the
	// same contact (its idempotency key) and waits again.
	ErrNotReplicated = errors.New("queue: not yet on the replicas")
)

// scriptError turns an error reply of one of our Lua scripts ("CODE message")
// into a sentinel wrapped with the script's message.
func scriptError(err error) error {
	if err == nil {
		return nil
	}
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return err
	}
	msg := rerr.Error()
	code, text, _ := strings.Cut(msg, " ")
	var sentinel error
	switch code {
	case "NOT_FOUND":
		sentinel = ErrNotFound
	case "NOT_YOURS":
		sentinel = ErrNotYours
	case "WRONG_STATE":
		sentinel = ErrWrongState
	case "STALE":
		sentinel = ErrStale
	default:
		return err
	}
	return &domainError{sentinel: sentinel, msg: text}
}

type domainError struct {
	sentinel error
	msg      string
}

func (e *domainError) Error() string { return e.msg }
func (e *domainError) Unwrap() error { return e.sentinel }

// Temporary reports whether err is not one of the queue's domain errors, i.e.
// the operation may succeed if tried again later.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	for _, s := range []error{ErrNotFound, ErrNotYours, ErrWrongState, ErrStale, ErrIdempotencyConflict, ErrInvalid} {
		if errors.Is(err, s) {
			return false
		}
	}
	return true
}
