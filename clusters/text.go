package clusters

import (
	"math"
	"strings"
	"unicode"

	"github.com/lianxin/lianxin/channels"
)

// Text is compared as character bigrams: every two neighbouring letters,
// digits or Han characters within a run of them ("武侯区停水" → 武侯 侯区
// 区停 停水). Bigrams are the usual indexing unit for Chinese retrieval
// when no segmenter is used, and they need no dictionary: a street, a
// compound or a company never seen before is matched as well as a common
// word. A segmenter was weighed: gojieba needs cgo and its dictionary files;
// pure-Go segmenters embed tens of megabytes of dictionary and still split
// unknown place names into single characters, which is exactly what a
// common problem's text is made of.

// stopBigrams carry no topic: courtesy, the hotline's own vocabulary, and
// the filler of a complaint. Frequent words are down-weighted by their
// document frequency anyway; these are the ones frequent in every topic.
var stopBigrams = map[term]bool{}

func init() {
	for _, w := range strings.Fields(`你好 您好 请问 谢谢 麻烦 希望 反映 反应 投诉 咨询 建议 请求 要求 尽快 处理 解决
		问题 情况 相关 有关 部门 一下 现在 已经 一直 没有 不是 什么 怎么 这个 那个 我们 我家 家里 他们 市民 本人 我是
		的话 可以 能否 是否 还是 但是 而且 因为 所以 如果 还有 这样 一个 几天 今天 昨天 时候 非常 严重 影响 生活 正常
		今年 有人 多次 看看 帮忙 管管 一管 好几 几次 有没`) {
		r := []rune(w)
		for i := 0; i+1 < len(r); i++ {
			stopBigrams[bigram(r[i], r[i+1])] = true
		}
	}
}

func wordRune(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// term is a bigram, its two runes in one number: the first in the high
// half. Kept as a number, a term is hashed and compared as one word and is
// never a string to allocate; terms order as their texts do (UTF-8 keeps
// the order of code points).
type term uint64

func bigram(a, b rune) term { return term(uint32(a))<<32 | term(uint32(b)) }

func (t term) runes() (rune, rune) { return rune(uint32(t >> 32)), rune(uint32(t)) }

func (t term) String() string {
	a, b := t.runes()
	return string([]rune{a, b})
}

// bigrams counts the text's bigrams, stop bigrams left out.
func bigrams(text string) map[term]int {
	text = strings.ToLower(channels.Simplify(text))
	out := map[term]int{}
	var run []rune
	flush := func() {
		for i := 0; i+1 < len(run); i++ {
			if b := bigram(run[i], run[i+1]); !stopBigrams[b] {
				out[b]++
			}
		}
		run = run[:0]
	}
	for _, r := range text {
		if wordRune(r) {
			run = append(run, r)
			continue
		}
		flush()
	}
	flush()
	return out
}

// vector is a sparse term weight vector.
type vector map[term]float64

func (v vector) norm() float64 {
	s := 0.0
	for _, w := range v {
		s += w * w
	}
	return math.Sqrt(s)
}

// districts of Chengdu as citizens write them, with the name a report uses.
// Longer names come first so that 龙泉驿区 is found before 龙泉.
var districts = []struct{ name, district string }{
	{"天府新区", "天府新区"}, {"东部新区", "东部新区"}, {"高新区", "高新区"}, {"龙泉驿", "龙泉驿区"}, {"青白江", "青白江区"},
	{"都江堰", "都江堰市"}, {"武侯", "武侯区"}, {"锦江区", "锦江区"}, {"青羊", "青羊区"}, {"金牛", "金牛区"},
	{"成华", "成华区"}, {"新都", "新都区"}, {"温江", "温江区"}, {"双流", "双流区"}, {"郫都", "郫都区"}, {"郫县", "郫都区"},
	{"新津", "新津区"}, {"简阳", "简阳市"}, {"彭州", "彭州市"}, {"邛崃", "邛崃市"}, {"崇州", "崇州市"}, {"金堂", "金堂县"},
	{"大邑", "大邑县"}, {"蒲江", "蒲江县"}, {"高新", "高新区"},
}

// DistrictOf returns the district a text names (the first one it finds), or "".
func DistrictOf(text string) string {
	for _, d := range districts {
		if strings.Contains(text, d.name) {
			return d.district
		}
	}
	return ""
}

// cut returns s cut to n runes, with an ellipsis if it was longer.
func cut(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n]) + "…"
}
