package channels

import "strings"

// traditional maps the traditional forms (繁體) of the characters that the
// triage words use to their simplified forms, so that a letter in Big5 or
// a message typed in Hong Kong or Taiwan gets the same first reading.
//
// golang.org/x/text decodes Big5 but has no traditional→simplified table,
// and the full OpenCC tables (thousands of characters and phrases, a
// segmenter to apply them) are far more than a keyword match needs. This
// table covers exactly the characters of requestWords and emergencyWords
// that are written otherwise in traditional text (TestSimplifyCoversTriage
// checks it against the triage words); it changes nothing else, and only
// the triage reads the result: the contact keeps the citizen's own text.
var traditional = map[rune]rune{
	'舉': '举', '擧': '举', '報': '报', '檢': '检', '發': '发', '訴': '诉', '擾': '扰', '為': '为', '爲': '为',
	'亂': '乱', '費': '费', '資': '资', '態': '态', '惡': '恶', '維': '维', '權': '权', '幫': '帮', '難': '难',
	'議': '议', '見': '见', '設': '设', '揚': '扬', '謝': '谢', '點': '点', '贊': '赞', '讚': '赞', '錦': '锦',
	'諮': '咨', '詢': '询', '請': '请', '問': '问', '麼': '么', '麽': '么', '辦': '办', '裡': '里', '裏': '里',
	'嗎': '吗', '氣': '气', '洩': '泄', '聞': '闻', '著': '着', '災': '灾', '煙': '烟', '燒': '烧', '來': '来',
	'傷': '伤', '暈': '晕', '臟': '脏', '沒': '没', '殺': '杀', '輕': '轻', '樓': '楼', '綁': '绑', '搶': '抢',
	'脅': '胁', '復': '复', '會': '会', '車': '车', '禍': '祸',
}

// Simplify returns s with the traditional characters the triage knows
// replaced by their simplified forms; s itself when it has none.
func Simplify(s string) string {
	i := strings.IndexFunc(s, isTraditional)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		if t, ok := traditional[r]; ok {
			r = t
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isTraditional(r rune) bool {
	if r < 0x4E00 {
		return false
	}
	_, ok := traditional[r]
	return ok
}
