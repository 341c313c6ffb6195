package channels_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
)

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"13800138000":        "+8613800138000",
		"138 0013 8000":      "+8613800138000",
		"+86-138-0013-8000":  "+8613800138000",
		"008613800138000":    "+8613800138000",
		"8613800138000":      "+8613800138000",
		"028-8765 4321":      "+862887654321",
		"(028) 87654321":     "+862887654321",
		"02887654321":        "+862887654321",
		"010-12345678":       "+861012345678",
		"+861012345678":      "+861012345678", // found by FuzzPhoneE164: was refused
		"1012345678":         "+861012345678",
		"011-12345678":       "", // no area code 011 (was +861112345678, refused again)
		"12345":              "",
		"12800138000":        "",
		"1380013800a":        "",
		"":                   "",
		"+":                  "",
		"138００138000":        "",
		"+14155550123":       "", // not a mobile starting 14
		"+44 20 7946 0958":   "",
		"200000000":          "+86200000000",
		"+86200000000":       "+86200000000", // found by FuzzNormalizePhone: was +8686200000000
		"+86 (0)28 87654321": "+862887654321",
	} {
		got, ok := channels.NormalizePhone(in)
		require.Equal(t, want, got, in)
		require.Equal(t, want != "", ok, in)
	}
}

func TestPhoneE164(t *testing.T) {
	for in, want := range map[string]string{
		"13800138000":        "+8613800138000",
		"+86 28 8765 4321":   "+862887654321",
		"+1 415 555 0123":    "+14155550123",
		"+1 (415) 555-0123":  "+14155550123",
		"0044 20 7946 0958":  "+442079460958",
		"+852 2345 6789":     "+85223456789",
		"+86 1234":           "", // says China, is no Chinese number
		"008612":             "",
		"+1 234":             "", // too short
		"+1234567890123456":  "", // longer than E.164
		"+0 415 555 0123":    "",
		"+1 415 555 0123 x2": "",
		"":                   "",
	} {
		got, ok := channels.PhoneE164(in)
		require.Equal(t, want, got, in)
		require.Equal(t, want != "", ok, in)
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"13800138000", "+86 138 0013 8000", "028-87654321", "0086", "+", "１３８"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e164, ok := channels.NormalizePhone(s)
		if !checkE164(t, channels.NormalizePhone, s, e164, ok) {
			return
		}
		if !strings.HasPrefix(e164, "+86") || len(e164) < 12 || len(e164) > 15 {
			t.Fatalf("%q → %q is not a Chinese E.164 number", s, e164)
		}
		if any, ok := channels.PhoneE164(s); !ok || any != e164 {
			t.Fatalf("PhoneE164(%q) = %q, %v; NormalizePhone gave %q", s, any, ok, e164)
		}
		// The mask hides the four digits before the last four, in place
		// (a check by what the mask contains took the last four of
		// +86200000000 for its middle).
		if m := channels.MaskPhone(e164); len(m) != len(e164) || m[len(m)-8:len(m)-4] != "****" {
			t.Fatalf("mask %q shows the middle of %q", m, e164)
		}
	})
}

func TestMask(t *testing.T) {
	require.Equal(t, "+86138****8000", channels.MaskPhone("+8613800138000"))
	require.Equal(t, "z***@example.cn", channels.MaskEmail("zhang.san@example.cn"))
	require.Equal(t, "成都***", channels.MaskText("成都市锦江区春熙路1号"))
	require.Equal(t, "", channels.MaskText(""))
}

func TestGuessRequestType(t *testing.T) {
	for text, want := range map[string]queue.RequestType{
		"我要投诉楼下餐馆油烟扰民":     queue.RequestComplaint,
		"举报某工地夜间违规施工":      queue.RequestReport,
		"请问公积金怎么提取":        queue.RequestConsultation,
		"建议在路口增设红绿灯":       queue.RequestSuggestion,
		"感谢社区工作人员的耐心帮助":    queue.RequestPraise,
		"老人走失了，求助":         queue.RequestHelp,
		"今天天气很好":           "",
		"公司拖欠工资三个月了，请问怎么办": queue.RequestComplaint,
	} {
		require.Equal(t, want, channels.GuessRequestType(text), text)
	}
}

func TestClean(t *testing.T) {
	require.Equal(t, "a\nb\tc", channels.Clean("  a\r\nb\tc\x00\x1b  "))
	require.Equal(t, "\uFFFDx", channels.Clean("\xffx"))
	// Bidirectional controls: "invoice_\u202Egpj.exe" shows as
	// "invoice_exe.jpg"; cleaned, it shows what it is.
	for _, r := range []rune{'\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069',
		'\u200E', '\u200F', '\u061C'} {
		require.Equal(t, "投诉ab", channels.Clean("投诉"+string(r)+"ab"), "%U", r)
	}
	require.Equal(t, "invoice_gpj.exe", channels.Clean("invoice_\u202Egpj.exe"))
	require.Equal(t, "👨\u200D👩", channels.Clean("👨\u200D👩"), "joiners in emoji stay")
}

// Clean's output is valid UTF-8 with no control or bidirectional
// formatting characters besides newline and tab, trimmed, and cleaning it
// again changes nothing.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"", " a\r\n", "x\u202Ey", "\xff\u2066\u2069", "\u061C\u200F\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := channels.Clean(s)
		require.True(t, utf8.ValidString(c))
		require.Equal(t, strings.TrimSpace(c), c)
		require.Equal(t, c, channels.Clean(c))
		for _, r := range c {
			if r == '\n' || r == '\t' {
				continue
			}
			require.False(t, unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r), "%U left in %q", r, c)
		}
	})
}

// FuzzPhoneE164: whatever it takes is E.164 (a plus, a country code not
// starting 0, at most 15 digits), reads the same again, and a Chinese
// number is the one NormalizePhone gives.
func FuzzPhoneE164(f *testing.F) {
	for _, s := range []string{"+1 415 555 0123", "0044 20 7946 0958", "13800138000", "+86 1234", "00", "+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e164, ok := channels.PhoneE164(s)
		if !checkE164(t, channels.PhoneE164, s, e164, ok) {
			return
		}
		if len(e164) < 9 || len(e164) > 16 || e164[1] == '0' {
			t.Fatalf("%q → %q is not E.164", s, e164)
		}
		if cn, ok := channels.NormalizePhone(s); ok != strings.HasPrefix(e164, "+86") || ok && cn != e164 {
			t.Fatalf("%q → %q, but NormalizePhone gives %q, %v", s, e164, cn, ok)
		}
	})
}

// checkE164 checks what read (a phone reader) gave for s: nothing when not
// ok, else a plus and digits that read gives back unchanged. It says
// whether there is a number to check further.
func checkE164(t *testing.T, read func(string) (string, bool), s, e164 string, ok bool) bool {
	t.Helper()
	if !ok {
		if e164 != "" {
			t.Fatalf("%q: not ok but %q", s, e164)
		}
		return false
	}
	if len(e164) < 2 || e164[0] != '+' {
		t.Fatalf("%q → %q does not start with +", s, e164)
	}
	for _, c := range e164[1:] {
		if c < '0' || c > '9' {
			t.Fatalf("%q → %q has a non-digit", s, e164)
		}
	}
	if again, ok := read(e164); !ok || again != e164 {
		t.Fatalf("not idempotent: %q → %q → %q", s, e164, again)
	}
	return true
}
