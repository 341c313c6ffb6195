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
func Assess(text string) Triage {
	text = Simplify(text)
	t := Triage{RequestType: guessRequestType(text)}
	for _, ew := range emergencyWords {
		for _, w := range ew.words {
			if strings.Contains(text, w) {
				t.Emergency = ew.kind
				if t.RequestType == "" {
					t.RequestType = queue.RequestHelp
				}
				return t
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
