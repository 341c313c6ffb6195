package configs

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// lookup follows a path such as "agents[1].skills" from the document body.
// It returns the node reached, the line of the last step it could take, and
// whether it took every step.
func lookup(n ast.Node, path string) (ast.Node, int, bool) {
	ln := 0
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			kv := mappingKey(n, name)
			if kv == nil {
				return n, ln, false
			}
			n, ln = kv.Value, line(kv.Key)
		}
		for rest != "" {
			idx, after, ok := strings.Cut(rest, "]")
			i, err := strconv.Atoi(idx)
			seq, isSeq := unwrap(n).(*ast.SequenceNode)
			if !ok || err != nil || !isSeq || i < 0 || i >= len(seq.Values) {
				return n, ln, false
			}
			n = seq.Values[i]
			if l := line(unwrap(n)); l > 0 {
				ln = l
			}
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return n, ln, true
}

// mappingKey finds key in a mapping node (goccy/go-yaml gives a one-key
// mapping as a bare *ast.MappingValueNode).
func mappingKey(n ast.Node, key string) *ast.MappingValueNode {
	var values []*ast.MappingValueNode
	switch m := unwrap(n).(type) {
	case *ast.MappingNode:
		values = m.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{m}
	}
	for _, kv := range values {
		if kv.Key != nil && keyString(kv.Key) == key {
			return kv
		}
	}
	return nil
}

func keyString(k ast.MapKeyNode) string {
	if s, ok := k.(ast.ScalarNode); ok {
		return fmt.Sprint(s.GetValue())
	}
	return k.String()
}

// unwrap looks through anchors and tags.
func unwrap(n ast.Node) ast.Node {
	for {
		switch t := n.(type) {
		case *ast.AnchorNode:
			n = t.Value
		case *ast.TagNode:
			n = t.Value
		default:
			return n
		}
	}
}

// pathAt names the node at pos, as a YAML path like "queue.max_misses" or
// "agents[1].skills.housng", by walking the tree from n. It reports false
// when no node starts at pos.
func pathAt(n ast.Node, pos *token.Position) (string, bool) {
	if n == nil || pos == nil {
		return "", false
	}
	at := func(n ast.Node) bool {
		tk := n.GetToken()
		return tk != nil && tk.Position != nil && tk.Position.Line == pos.Line && tk.Position.Column == pos.Column
	}
	var walk func(n ast.Node, path string) (string, bool)
	walk = func(n ast.Node, path string) (string, bool) {
		n = unwrap(n)
		var values []*ast.MappingValueNode
		switch t := n.(type) {
		case *ast.MappingNode:
			values = t.Values
		case *ast.MappingValueNode:
			values = []*ast.MappingValueNode{t}
		case *ast.SequenceNode:
			for i, v := range t.Values {
				if p, ok := walk(v, fmt.Sprintf("%s[%d]", path, i)); ok {
					return p, true
				}
			}
		}
		for _, kv := range values {
			if kv.Key == nil {
				continue
			}
			p := join(path, keyString(kv.Key))
			if at(kv.Key) {
				return p, true
			}
			if kv.Value != nil {
				if q, ok := walk(kv.Value, p); ok {
					return q, true
				}
			}
		}
		if n != nil && at(n) {
			return path, true
		}
		return "", false
	}
	return walk(n, "")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// parent is the path one step up: "queue" for "queue.offer_timout", "" at the top.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}
