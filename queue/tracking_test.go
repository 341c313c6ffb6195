package queue_test

import (
	"testing"

	"github.com/lianxin/lianxin/queue"
)

// FuzzValidTrackingNo: a number that passes is all digits of a sane length,
// and changing any one digit of it makes it fail (what the check digit is for).
func FuzzValidTrackingNo(f *testing.F) {
	for _, s := range []string{"2611260000015", "2611260999992", "261126000001", "", "abc", "26112600000150000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !queue.ValidTrackingNo(s) {
			return
		}
		if len(s) < 13 || len(s) > 20 {
			t.Fatalf("%q passed with length %d", s, len(s))
		}
		b := []byte(s)
		for i, c := range b {
			if c < '0' || c > '9' {
				t.Fatalf("%q passed with a non-digit", s)
			}
			b[i] = '0' + (c-'0'+1)%10
			if queue.ValidTrackingNo(string(b)) {
				t.Fatalf("%q passed and so did %q", s, b)
			}
			b[i] = c
		}
	})
}
