package clusters

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzAdd: any text (broken UTF-8, control characters, no Han at all) is
// grouped without a panic, and the groups' reports stay well formed.
func FuzzAdd(f *testing.F) {
	for _, s := range []string{"", "武侯区停水", "\xff\xfe停水", "a", "12345 12345", strings.Repeat("停", 500),
		"燃氣味 成華區", "区区区区", "\u200e\u202e武侯区"} {
		f.Add(s, "武侯区玉林北路")
	}
	f.Fuzz(func(t *testing.T, text, addr string) {
		c := New(Options{MinCount: 2, Window: time.Hour, History: 2 * time.Hour, MaxTerms: 4, MaxClusters: 3}, corpusStart)
		at := corpusStart.Add(3 * time.Hour)
		for i := range 4 {
			id, _ := c.Add(Contact{TrackingNo: "t", At: at.Add(time.Duration(i) * time.Minute), Text: text, Address: addr})
			if id == "" {
				t.Fatal("no group id")
			}
		}
		if c.Len() > 3 {
			t.Fatalf("%d groups kept, MaxClusters 3", c.Len())
		}
		for _, cl := range c.Clusters(at.Add(time.Hour), 1) {
			if len(cl.Terms) > 12 || cl.Count < 1 || !utf8.ValidString(cl.Label) && utf8.ValidString(text+addr) {
				t.Fatalf("bad report %+v", cl)
			}
		}
	})
}
