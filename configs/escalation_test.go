package configs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/configs"
	"github.com/stretchr/testify/require"
)

func TestEscalation(t *testing.T) {
	c, err := configs.Default()
	require.NoError(t, err)
	for _, q := range c.Queues {
		if q.Name == "general" {
			require.Empty(t, q.Escalation)
			continue
		}
		require.Equal(t, []configs.EscalationStep{{After: 2 * time.Minute, To: "general"}}, q.Escalation, q.Name)
	}
	_, err = configs.Parse([]byte("queues:\n  - {name: general, title: G}\n  - {name: labour, title: L, escalation: [{after: 2m, to: lab}, {after: 1m, to: general}]}\n"), "x.yaml")
	require.Error(t, err)
	msg := err.Error()
	require.True(t, strings.Contains(msg, "queues[1].escalation[0].to"), msg)
	require.True(t, strings.Contains(msg, "queues[1].escalation[1].after"), msg)
}
