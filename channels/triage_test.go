package channels_test

import (
	"os"
	"strings"
	"testing"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
)

func TestAssess(t *testing.T) {
	for text, want := range map[string]channels.Triage{
		"楼道里闻到很大的煤气味，好像燃气泄漏了": {RequestType: queue.RequestHelp, Emergency: channels.EmergencyGas},
		"对面楼着火了":       {RequestType: queue.RequestHelp, Emergency: channels.EmergencyFire},
		"我要投诉，邻居打人":    {RequestType: queue.RequestComplaint, Emergency: channels.EmergencyPolice},
		"路口发生车祸，有人受伤了": {RequestType: queue.RequestHelp, Emergency: channels.EmergencyMedical},
		"请问社保卡怎么补办":    {RequestType: queue.RequestConsultation},
		"":             {},
	} {
		got := channels.Assess(text)
		require.Equal(t, want, got, text)
		if got.Emergency != "" {
			require.NotEmpty(t, channels.EmergencyAdvice(got.Emergency))
		}
	}
}

// TestTriageCorpus reads testdata/triage.tsv (expected kind or "-", TAB,
// text) and reports precision and recall of the emergency reading: an
// emergency word mentioned as context, a risk or the past is no emergency.
func TestTriageCorpus(t *testing.T) {
	data, err := os.ReadFile("testdata/triage.tsv")
	require.NoError(t, err)
	var tp, fp, fn, tn, pos, neg int
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		want, text, ok := strings.Cut(line, "\t")
		require.True(t, ok, "bad corpus line %q", line)
		got := channels.Assess(text).Emergency
		if want == "-" {
			neg++
		} else {
			pos++
		}
		switch {
		case want != "-" && got == want:
			tp++
		case want != "-":
			fn++
			if got != "" {
				fp++ // the wrong kind is a wrong alarm too
			}
			t.Errorf("missed %s: %s (got %q)", want, text, got)
		case got != "":
			fp++
			t.Errorf("false %s: %s", got, text)
		default:
			tn++
		}
	}
	precision := float64(tp) / float64(tp+fp)
	recall := float64(tp) / float64(tp+fn)
	t.Logf("triage corpus: %d positives, %d negatives; precision %.2f, recall %.2f", pos, neg, precision, recall)
	require.Greater(t, pos, 10)
	require.Greater(t, neg, 10)
}
