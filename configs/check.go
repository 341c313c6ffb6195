package configs

import (
	"errors"
	"os"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Check validates the config file at path as `lianxin check-config FILE`
// does: parse, apply the environment (so secrets kept there count, as they
// will when serving), Validate, and LoadDirectory. Every problem is reported, joined, one per line, each as
// "FILE:LINE: field: message", e.g.
//
//	bad.yaml:14: agents[1].skills: unknown queue "housng"
//
// Problems in a directory CSV name that file, its line and column.
func Check(path string) error {
	data, err := readFile(path)
	if err != nil {
		return err
	}
	c, err := decode(data, path)
	if err != nil {
		return err // a *LineError already
	}
	applyEnv(c, os.Getenv)
	var errs []error
	f, _ := parser.ParseBytes(data, 0) // decode succeeded, so this does too
	place := func(err error) {
		for _, e := range leaves(err) {
			var fe *FieldError
			if errors.As(e, &fe) && !isLineError(e) {
				e = placeField(path, f, fe)
			}
			errs = append(errs, e)
		}
	}
	place(c.Validate())
	if _, err := LoadDirectory(c); err != nil {
		place(err)
	}
	return errors.Join(errs...)
}

// leaves flattens errors.Join trees.
func leaves(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

func isLineError(err error) bool {
	var le *LineError
	return errors.As(err, &le)
}

// placeField finds the line of fe's field in the file. A field the file does
// not set comes from the defaults; it is placed at the nearest enclosing key
// the file does set, or at line 1.
func placeField(file string, f *ast.File, fe *FieldError) *LineError {
	le := &LineError{File: file, Line: 1, Msg: fe.Error(), Err: fe}
	if f == nil || len(f.Docs) == 0 {
		le.Msg += " (not in this file: from the defaults)"
		return le
	}
	var body ast.Node
	for _, d := range f.Docs {
		if d.Body != nil {
			body = d.Body
			break
		}
	}
	n, ln, found := lookup(body, fe.Path)
	if found && fe.key != "" {
		if kv := mappingKey(n, fe.key); kv != nil {
			ln = line(kv.Key)
		}
	}
	switch {
	case ln > 0:
		le.Line = ln
	default:
		le.Msg += " (not in this file: from the defaults)"
	}
	return le
}

// Warnings names what a valid configuration leaves citizens without (each
// channel's own, see sms.Config.Warnings and wechat.Config.Warnings): the
// node starts and says them in its log; lianxin check-config prints them.
func (c *Config) Warnings() []string {
	return append(c.SMS.Warnings(), c.WeChat.Warnings()...)
}
