package channels

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// triageWords are every word the triage looks for.
func triageWords() []string {
	var ws []string
	for _, rw := range requestWords {
		ws = append(ws, rw.words...)
	}
	for _, ew := range emergencyWords {
		ws = append(ws, ew.words...)
	}
	return ws
}

// TestSimplifyCoversTriage: a character of a triage word that Big5 cannot
// carry is written otherwise in traditional text, so the table must lead to
// it; every key is a traditional character (in Big5), every value one of
// GB2312; the triage words themselves are left as they are.
func TestSimplifyCoversTriage(t *testing.T) {
	big5 := traditionalchinese.Big5.NewEncoder()
	gb := simplifiedchinese.HZGB2312.NewEncoder()
	values := map[rune]bool{}
	for k, v := range traditional {
		values[v] = true
		// 爲 is the variant of 為 that Unicode text from Hong Kong uses;
		// every other key is a character a Big5 letter can carry.
		if _, err := big5.String(string(k)); err != nil && k != '爲' {
			t.Errorf("%c is not in Big5", k)
		}
		_, err := gb.String(string(v))
		require.NoError(t, err, "%c is not in GB2312", v)
		require.NotEqual(t, k, v)
	}
	for _, w := range triageWords() {
		require.Equal(t, w, Simplify(w), "a triage word is simplified already")
		for _, r := range w {
			if r < utf8.RuneSelf {
				continue
			}
			if _, err := big5.String(string(r)); err != nil {
				require.True(t, values[r], "%c of %q is not in Big5 and no traditional form leads to it", r, w)
			}
		}
	}
}

// TestAssessTraditional: what citizens write in traditional characters is
// read like the same words in simplified ones.
func TestAssessTraditional(t *testing.T) {
	for text, want := range map[string]Triage{
		"市長您好：臺灣同胞來蓉投資，請問營業執照在哪裡辦理？": {RequestType: queue.RequestConsultation},
		"我要檢舉小區樓頂違章搭建":               {RequestType: queue.RequestReport},
		"樓上裝修噪音擾民，物業不作為":             {RequestType: queue.RequestComplaint},
		"建議增設無障礙電梯":                  {RequestType: queue.RequestSuggestion},
		"感謝環衛工人":                     {RequestType: queue.RequestPraise},
		"樓道裡聞到煤氣，好像燃氣洩漏了":            {RequestType: queue.RequestHelp, Emergency: EmergencyGas},
		"對面樓著火了":                     {RequestType: queue.RequestHelp, Emergency: EmergencyFire},
		"路口發生車禍":                     {RequestType: queue.RequestHelp, Emergency: EmergencyTraffic},
		"有人受傷了":                      {RequestType: queue.RequestHelp, Emergency: EmergencyMedical},
		"鄰居威脅要殺人":                    {RequestType: queue.RequestHelp, Emergency: EmergencyPolice},
	} {
		require.Equal(t, want, Assess(text), text)
	}
	require.Equal(t, queue.RequestConsultation, GuessRequestType("請問"))
}

func TestSimplifyLeavesOtherTextAlone(t *testing.T) {
	for _, s := range []string{"", "hello", "市长您好：路灯坏了", "營業執照", "😀"} {
		if !strings.ContainsFunc(s, isTraditional) {
			require.Equal(t, s, Simplify(s))
		}
	}
	require.Equal(t, "营業執照请问", Simplify("营業執照請問"), "only what the triage needs")
}

// FuzzSimplify: the result has as many characters, holds no character the
// table maps, differs only where the table says, and simplifying again
// changes nothing.
func FuzzSimplify(f *testing.F) {
	f.Add("請問營業執照在哪裡辦理")
	f.Add("市长您好")
	f.Add("\xff\xfe著")
	f.Fuzz(func(t *testing.T, s string) {
		out := Simplify(s)
		if !utf8.ValidString(s) {
			return // invalid bytes become U+FFFD past the first traditional character
		}
		if utf8.RuneCountInString(out) != utf8.RuneCountInString(s) {
			t.Fatalf("%q → %q: character count changed", s, out)
		}
		if strings.ContainsFunc(out, isTraditional) {
			t.Fatalf("%q → %q: a traditional character is left", s, out)
		}
		if Simplify(out) != out {
			t.Fatalf("%q: not idempotent", s)
		}
		in, o := []rune(s), []rune(out)
		for i := range in {
			if want, ok := traditional[in[i]]; ok && o[i] != want || !ok && o[i] != in[i] {
				t.Fatalf("%q → %q: character %d is %c", s, out, i, o[i])
			}
		}
	})
}

// BenchmarkAssess: simplified text (the common case) costs no allocation
// for the conversion.
func BenchmarkAssess(b *testing.B) {
	for _, tc := range []struct{ name, text string }{
		{"simplified", "市长您好：我们小区门口的路灯坏了三个月，晚上很不安全，请问什么时候能修好？"},
		{"traditional", "市長您好：我們小區門口的路燈壞了三個月，晚上很不安全，請問什麼時候能修好？"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Assess(tc.text)
			}
		})
	}
}
