package configs

import (
	"errors"
	"fmt"
)

var (
	// ErrSyntax: a config file is not YAML, or not YAML of the Config's shape
	// (an unknown field, a wrong type, a duplicate key).
	ErrSyntax = errors.New("configs: bad YAML")
	// ErrInvalid: a value is out of range or refers to something that does not
	// exist. Every *FieldError is ErrInvalid.
	ErrInvalid = errors.New("configs: invalid value")
	// ErrDirectory: a hotline or mailbox file is malformed or inconsistent.
	ErrDirectory = errors.New("configs: bad directory file")
)

// FieldError is one invalid value, named by its YAML path, e.g.
// `agents[2].skills: unknown queue "housng"`. Validate returns them joined.
type FieldError struct {
	// Path is the field's YAML path without the leading "$.", e.g. "queue.offer_timeout".
	Path string
	// Msg says what is wrong.
	Msg string

	// key, when set, is the map key below Path that is at fault; Check uses it
	// to point at the key's own line.
	key string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func fieldErr(path, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

func keyErr(path, key, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...), key: key}
}

// LineError places an error in a file: "FILE:LINE: msg", or
// "FILE:LINE:COL: msg" when the column is known.
type LineError struct {
	File   string
	Line   int
	Column int // 0 when not given
	Msg    string
	// Err is the cause: ErrSyntax (with goccy/go-yaml's error), a *FieldError,
	// or ErrDirectory.
	Err error
}

func (e *LineError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

func (e *LineError) Unwrap() error { return e.Err }
