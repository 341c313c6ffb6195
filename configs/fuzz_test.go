package configs

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse. Properties: it never panics; an
// error is ErrSyntax (a *LineError with a line) or ErrInvalid (FieldErrors);
// a Config it returns passes Validate and parses the same way twice.
func FuzzParse(f *testing.F) {
	f.Add(defaultYAML)
	files, _ := filepath.Glob(testdata + "*.yaml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{"", "~", "[]", "a: &x [*x]", "queues: ~", "agents: [{}]", "http: {addr: ':1'}\n---\n",
		"queue: {sweep: -1s}", "mailbox: {max_letter_bytes: 99999999999999999999}", "<<: {node_id: a}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			var le *LineError
			switch {
			case errors.Is(err, ErrSyntax):
				if !errors.As(err, &le) || le.Line < 1 || le.File != "fuzz.yaml" {
					t.Fatalf("syntax error without a place: %v", err)
				}
			case errors.Is(err, ErrInvalid):
				for _, e := range leaves(err) {
					var fe *FieldError
					if !errors.As(e, &fe) || fe.Path == "" {
						t.Fatalf("invalid value without a field: %v", e)
					}
				}
			default:
				t.Fatalf("unclassified error %T: %v", err, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects: %v", err)
		}
		again, err := Parse(data, "fuzz.yaml")
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("Parse is not deterministic: %v", err)
		}
	})
}
