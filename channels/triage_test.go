package channels_test

import (
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
