package configs

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// typeCheck walks the YAML tree beside the Go type it decodes into and
// reports every value of the wrong kind, each at its own line, before the
// decoder (which stops at the first, and takes "3" for 3) sees them:
//
//   - a whole-number field given a string (max_misses: "3") or anything but
//     an integer;
//   - a duration field given something time.ParseDuration refuses (20x) or a
//     bare number (10: seconds? nanoseconds?).
//
// Fields whose type decodes itself (a yaml or text unmarshaler) are left to
// it; unknown keys are left to the strict decoder.
func typeCheck(filename string, n ast.Node, t reflect.Type) []error {
	var errs []error
	var walk func(n ast.Node, t reflect.Type, path string)
	walk = func(n ast.Node, t reflect.Type, path string) {
		n = unwrap(n)
		if n == nil || n.Type() == ast.NullType || n.Type() == ast.AliasType || n.Type() == ast.MergeKeyType {
			return // an alias is checked where its anchor is
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if decodesItself(t) {
			return
		}
		bad := func(want string) {
			errs = append(errs, &LineError{File: filename, Line: max(line(n), 1),
				Msg: fmt.Sprintf("%s: %s is not %s", path, scalarText(n), want), Err: ErrSyntax})
		}
		switch {
		case t == reflect.TypeFor[time.Duration]():
			s, ok := n.(*ast.StringNode)
			if !ok {
				bad("a duration such as 20s, 250ms or 12h")
				return
			}
			if _, err := time.ParseDuration(s.Value); err != nil {
				bad("a duration such as 20s, 250ms or 12h")
			}
			return
		}
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if _, ok := n.(*ast.IntegerNode); !ok {
				bad("a whole number")
			}
		case reflect.Struct:
			for _, kv := range mappingValues(n) {
				if f, ok := fieldByTag(t, keyString(kv.Key)); ok {
					walk(kv.Value, f.Type, join(path, keyString(kv.Key)))
				}
			}
		case reflect.Map:
			for _, kv := range mappingValues(n) {
				walk(kv.Value, t.Elem(), join(path, keyString(kv.Key)))
			}
		case reflect.Slice, reflect.Array:
			if s, ok := n.(*ast.SequenceNode); ok {
				for i, v := range s.Values {
					walk(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
				}
			}
		}
	}
	walk(n, t, "")
	return errs
}

func scalarText(n ast.Node) string {
	if tk := n.GetToken(); tk != nil {
		return fmt.Sprintf("%q", tk.Value)
	}
	return "this value"
}

func mappingValues(n ast.Node) []*ast.MappingValueNode {
	var out []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		out = m.Values
	case *ast.MappingValueNode:
		out = []*ast.MappingValueNode{m}
	}
	return slicesFilter(out, func(kv *ast.MappingValueNode) bool { return kv.Key != nil })
}

func slicesFilter[T any](s []T, keep func(T) bool) []T {
	var out []T
	for _, v := range s {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

// fieldByTag finds the struct field a YAML key decodes into, looking into
// inlined structs too.
func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if g, ok := fieldByTag(ft, key); ok {
					return g, true
				}
			}
			continue
		}
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

var (
	bytesUnmarshaler     = reflect.TypeFor[yaml.BytesUnmarshaler]()
	interfaceUnmarshaler = reflect.TypeFor[yaml.InterfaceUnmarshaler]()
	nodeUnmarshaler      = reflect.TypeFor[yaml.NodeUnmarshaler]()
	textUnmarshaler      = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func decodesItself(t reflect.Type) bool {
	for _, u := range []reflect.Type{bytesUnmarshaler, interfaceUnmarshaler, nodeUnmarshaler, textUnmarshaler} {
		if t.Implements(u) || reflect.PointerTo(t).Implements(u) {
			return true
		}
	}
	return false
}
