package channels

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestParseRatingReply(t *testing.T) {
	for in, want := range map[string]int{"1": 1, " 2 ": 2, "３": 3, "2。": 2, "满意": 1, "基本满意！": 2, "不满意": 3, "\n3\r\n": 3, "1，，": 1, "2~": 2} {
		got, ok := ParseRatingReply(in)
		require.True(t, ok, "%q", in)
		require.Equal(t, want, got, "%q", in)
	}
	for _, in := range []string{"", "0", "4", "12", "1 2", "路灯不亮", "2号楼漏水", "1。路灯", "非常满意"} {
		_, ok := ParseRatingReply(in)
		require.False(t, ok, "%q is a message, not a rating", in)
	}
}

func FuzzParseRatingReply(f *testing.F) {
	for _, s := range []string{"1", "２", "基本满意", "", "3 3", "\xff", "不满意。", "12345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		score, ok := ParseRatingReply(s)
		if ok != (score >= 1 && score <= 3) {
			t.Fatalf("%q: score %d, ok %v", s, score, ok)
		}
		if ok && utf8.RuneCountInString(s) > 4 && len(s) < 16 {
			// Only the short forms rate, with padding around them: spaces
			// and the closing punctuation people type after a digit.
			trimmed := 0
			for _, r := range s {
				if unicode.IsSpace(r) || strings.ContainsRune(".。!！~～,，、", r) {
					trimmed++
				}
			}
			if utf8.RuneCountInString(s)-trimmed > 4 {
				t.Fatalf("%q rated %d", s, score)
			}
		}
	})
}
