package configs

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// yamlError turns a goccy/go-yaml error, which carries a line and column and
// a source excerpt, into a one-line "FILE:LINE: message". Where the tree is
// known (decoding, not parsing), the message names the field by its path.
func yamlError(filename string, err error, body ast.Node) error {
	le := &LineError{File: filename, Line: 1, Msg: err.Error(), Err: fmt.Errorf("%w: %w", ErrSyntax, err)}
	var ye yaml.Error
	if !errors.As(err, &ye) {
		return le
	}
	le.Msg = ye.GetMessage()
	tk := ye.GetToken()
	if tk == nil || tk.Position == nil {
		return le
	}
	le.Line = max(tk.Position.Line, 1)
	path, ok := pathAt(body, tk.Position)
	if !ok {
		return le
	}
	var (
		unknown *yaml.UnknownFieldError
		typ     *yaml.TypeError
		over    *yaml.OverflowError
	)
	switch {
	case errors.As(err, &unknown) && parent(path) != "":
		le.Msg = parent(path) + ": " + le.Msg
	case errors.As(err, &typ):
		le.Msg = fmt.Sprintf("%s: %q is not %s", path, tk.Value, describe(typ.DstType))
	case errors.As(err, &over):
		le.Msg = fmt.Sprintf("%s: %s is out of range", path, over.SrcNum)
	case path != "":
		le.Msg = path + ": " + le.Msg
	}
	return le
}

// describe says what a field wants, for type errors.
func describe(t reflect.Type) string {
	switch {
	case t == nil:
		return "valid here"
	case t == reflect.TypeFor[time.Duration]():
		return "a duration such as 20s, 250ms or 12h"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.String:
		return "a string"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return "a " + t.String()
}
