// Package channels holds what every intake channel shares: phone-number
// normalisation, masking of citizens' data for logs, a first guess of the
// request type, and the acknowledgement text with the tracking number.
// Each channel lives in a package of its own below this one.
package channels

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/lianxin/lianxin/queue"
)

// NormalizePhone turns a Chinese phone number as people write it into E.164
// (+86…): mobiles "138 0013 8000", "+86-13800138000", "008613800138000";
// landlines with area code "028-8765 4321". ok is false when s is not one,
// or is another country's ("+1 …"). E.164 in gives itself back.
func NormalizePhone(s string) (e164 string, ok bool) {
	d, ok := phoneDigits(s)
	if !ok {
		return "", false
	}
	return chinese(d, strings.HasPrefix(s, "+"))
}

// chinese reads digits d (after a plus: plus) as a Chinese number.
func chinese(d string, plus bool) (string, bool) {
	switch {
	case plus:
		// A country code follows the plus: China's, or the number is not
		// one ("+1 415 555 0123" is no mobile starting 14).
		if !strings.HasPrefix(d, "86") {
			return "", false
		}
		d = d[2:]
	case strings.HasPrefix(d, "0086"):
		d = d[4:]
	case strings.HasPrefix(d, "86") && len(d) >= 12:
		d = d[2:]
	}
	if len(d) == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9' {
		return "+86" + d, true // mobile
	}
	// A landline: its area code, with or without the trunk 0, and the
	// local number, 9 to 11 digits in all. No area code starts 0, and the
	// one that starts 1 is Beijing's 10 (no mobile starts so).
	n := d
	if len(d) > 0 && d[0] == '0' {
		n = d[1:]
	}
	if len(n) >= 9 && len(n) <= 11 && n[0] != '0' && (n[0] != '1' || n[1] == '0') {
		return "+86" + n, true
	}
	return "", false
}

// PhoneE164 reads the number a citizen can be called or texted back on: a
// Chinese one as NormalizePhone reads it, or another country's written with
// its country code after "+" or "00" ("+1 415 555 0123", "0044 20 7946
// 0958"), in E.164. ok is false for anything else, and for a number that
// says +86 but is not a Chinese one.
func PhoneE164(s string) (e164 string, ok bool) {
	d, ok := phoneDigits(s)
	if !ok {
		return "", false
	}
	plus := strings.HasPrefix(s, "+")
	if e, ok := chinese(d, plus); ok {
		return e, true
	}
	switch {
	case plus:
	case strings.HasPrefix(d, "00"):
		d = d[2:]
	default:
		return "", false
	}
	if len(d) < 8 || len(d) > 15 || d[0] == '0' || strings.HasPrefix(d, "86") {
		return "", false
	}
	return "+" + d, true
}

// phoneDigits is the digits of a number as people write it (spaces, dashes,
// dots, brackets and a leading plus between or before them); ok is false
// for anything else in it.
func phoneDigits(s string) (string, bool) {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return "", false
		}
	}
	return b.String(), true
}

// MaskPhone hides the middle of a phone number for logs: +86138****8000.
func MaskPhone(s string) string {
	if len(s) <= 7 {
		return strings.Repeat("*", len(s))
	}
	return s[:len(s)-8] + "****" + s[len(s)-4:]
}

// MaskEmail hides an e-mail's local part for logs: z***@example.cn.
func MaskEmail(s string) string {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" {
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + "***@" + domain
}

// MaskText keeps the first few characters of a citizen's text (an address,
// a name) for logs.
func MaskText(s string) string {
	n := 0
	for i := range s {
		if n == 2 {
			return s[:i] + "***"
		}
		n++
	}
	if s == "" {
		return ""
	}
	return "***"
}

var requestWords = []struct {
	t     queue.RequestType
	words []string
}{
	{queue.RequestReport, []string{"举报", "检举", "揭发"}},
	{queue.RequestComplaint, []string{"投诉", "扰民", "不作为", "乱收费", "欠薪", "拖欠工资", "噪音", "态度恶劣", "维权"}},
	{queue.RequestHelp, []string{"求助", "救助", "帮帮", "帮忙", "困难", "被困", "走失"}},
	{queue.RequestSuggestion, []string{"建议", "意见", "希望增设", "提议"}},
	{queue.RequestPraise, []string{"表扬", "感谢", "点赞", "锦旗"}},
	{queue.RequestConsultation, []string{"咨询", "请问", "怎么办理", "如何", "怎么", "是否", "哪里", "吗？", "吗?"}},
}

// GuessRequestType makes a first guess of the kind of request from its
// words; the agent confirms or corrects it at wrap-up. Empty when nothing
// points anywhere.
func GuessRequestType(text string) queue.RequestType {
	return guessRequestType(Simplify(text))
}

func guessRequestType(text string) queue.RequestType {
	for _, rw := range requestWords {
		for _, w := range rw.words {
			if strings.Contains(text, w) {
				return rw.t
			}
		}
	}
	return ""
}

// Clean removes control characters (but keeps newlines and tabs), the
// bidirectional controls that reorder how text is shown (U+202A–U+202E,
// U+2066–U+2069, U+200E, U+200F, U+061C: a right-to-left override would let
// a citizen's text show the desk something other than what it says) and
// surrounding space from a citizen's text.
func Clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || isBidiControl(r) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(strings.ReplaceAll(s, "\r", ""))
}

// isBidiControl reports the Unicode bidirectional formatting characters.
func isBidiControl(r rune) bool {
	return r >= '\u202A' && r <= '\u202E' || r >= '\u2066' && r <= '\u2069' ||
		r == '\u200E' || r == '\u200F' || r == '\u061C'
}

// Ack is the acknowledgement a citizen gets on any channel.
func Ack(trackingNo string) string {
	return "您的诉求已受理，受理编号 " + trackingNo + "，可凭此编号查询办理进度。【12345】"
}

// Mailbox is a leader mailbox of the directory, as the channels that take
// letters (web letters, e-mail) need it: where a letter goes and who it is for.
type Mailbox struct {
	ID    string
	Name  string
	Queue string
}
