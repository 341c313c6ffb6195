package channels

import (
	"strings"

	"github.com/lianxin/lianxin/queue"
)

// Emergency kinds, and the line a citizen must call at once for each.
const (
	EmergencyFire    = "fire"    // 119
	EmergencyMedical = "medical" // 120
	EmergencyPolice  = "police"  // 110
	EmergencyGas     = "gas"     // 119 and the gas company's repair line
	EmergencyTraffic = "traffic" // 122
)

// EmergencyPriority is the priority an emergency contact gets (the highest).
const EmergencyPriority = 9

var emergencyWords = []struct {
	kind  string
	words []string
}{
	{EmergencyGas, []string{"煤气泄漏", "燃气泄漏", "天然气泄漏", "闻到煤气", "闻到燃气", "天然气味", "燃气味很大"}},
	{EmergencyFire, []string{"着火", "起火", "失火", "火灾", "冒烟", "烧起来", "爆炸"}},
	{EmergencyMedical, []string{"有人受伤", "受伤了", "昏迷", "晕倒", "不省人事", "大出血", "心脏病", "没有呼吸", "溺水",
		"中毒", "抽搐"}},
	{EmergencyPolice, []string{"自杀", "轻生", "跳楼", "杀人", "砍人", "持刀", "打人", "家暴", "绑架", "抢劫", "被困", "救命",
		"威胁要杀", "报复社会"}},
	{EmergencyTraffic, []string{"车祸", "交通事故", "撞车", "撞人"}},
}

// conditionWords name a standing condition as well as an acute event: they
// count only in a clause that says it is happening now (acuteWords), or
// right before 了 ("中毒了"). "家中老人有心脏病" is context, not a call for help.
var conditionWords = map[string]bool{"心脏病": true, "抽搐": true, "中毒": true}

var acuteWords = []string{"发作", "突发", "突然", "倒地", "晕", "叫不醒", "不行了", "救护车", "急救", "吐", "送医", "正在", "现在"}

// offWords, in the same clause as an emergency word, say the citizen speaks
// of a risk, a fear, the past or a question, not of an emergency now: "万一着火",
// "担心引起火灾", "去年着火过", "火灾险怎么理赔".
var offWords = []string{"万一", "担心", "怕", "容易", "以免", "防止", "预防", "如果", "要是", "引起", "隐患", "会不会",
	"去年", "上个月", "上周", "以前", "曾经", "处理过", "处理结果", "理赔", "险", "患者", "报销", "咨询", "请问", "申请"}

// negations right before an emergency word cancel it ("没有燃气泄漏").
var negations = []string{"没有", "没", "无", "不是", "未"}

// clauseSep splits a text into clauses: a word counts by what its own clause
// says around it.
func clauseSep(r rune) bool {
	return strings.ContainsRune("，。！？；：、,.!?;:\n\r\t ", r)
}

// asks reports whether clause, which holds w at i, asks for help with w now.
func asks(clause, w string, i int) bool {
	for _, o := range offWords {
		if strings.Contains(clause, o) {
			return false
		}
	}
	for _, n := range negations {
		if strings.HasSuffix(clause[:i], n) {
			return false
		}
	}
	rest := clause[i+len(w):]
	if strings.HasPrefix(rest, "过") {
		return false // 着火过: it happened once
	}
	if !conditionWords[w] {
		return true
	}
	if strings.HasPrefix(rest, "了") {
		return true
	}
	for _, a := range acuteWords {
		if strings.Contains(clause, a) {
			return true
		}
	}
	return false
}

// Triage is the first reading of a citizen's words at intake.
type Triage struct {
	RequestType queue.RequestType
	// Emergency is the kind of emergency the words point to, or "".
	Emergency string
}

// Assess reads a citizen's text: the first guess of the request type, and
// whether it looks like an emergency (fire, someone hurt, a threat to life,
// a gas leak, a crash). An emergency raises the contact's priority, alerts
// supervisors and tells the citizen at once which emergency line to call.
//
// Traditional characters are read as their simplified forms (Simplify), so
// a letter in Big5 gets the same reading.
//
// An emergency word counts only where the citizen asks for help with it
// now: not in a clause about a risk, a fear, the past or a question, nor a
// standing condition mentioned as context (see asks). The corpus in
// testdata/triage.tsv holds both kinds; TestTriageCorpus reports precision
// and recall on it.
func Assess(text string) Triage {
	text = Simplify(text)
	t := Triage{RequestType: guessRequestType(text)}
	clauses := strings.FieldsFunc(text, clauseSep)
	for _, ew := range emergencyWords {
		for _, w := range ew.words {
			for _, c := range clauses {
				if i := strings.Index(c, w); i >= 0 && asks(c, w, i) {
					t.Emergency = ew.kind
					if t.RequestType == "" {
						t.RequestType = queue.RequestHelp
					}
					return t
				}
			}
		}
	}
	return t
}

// EmergencyAdvice is what the citizen is told at once for an emergency kind.
func EmergencyAdvice(kind string) string {
	switch kind {
	case EmergencyFire:
		return "如遇火情，请立即拨打119火警电话，并尽快撤离到安全地带。"
	case EmergencyGas:
		return "如闻到燃气味，请立即关闭阀门、打开门窗、不要开关电器或使用明火，撤离后拨打119及燃气公司抢修电话。"
	case EmergencyMedical:
		return "如有人受伤或突发疾病，请立即拨打120急救电话。"
	case EmergencyPolice:
		return "如遇危及人身安全的紧急情况，请立即拨打110报警电话。"
	case EmergencyTraffic:
		return "如发生交通事故，请立即拨打122交通事故报警电话，有人受伤请同时拨打120。"
	}
	return ""
}
