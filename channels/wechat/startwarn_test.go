package wechat_test

import (
	"testing"

	"github.com/lianxin/lianxin/channels/wechat"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestNoAppSecretWarnedAtStart: an account without app_secret is named once
// when the channel starts (nothing can go through WeChat's API for its
// citizens), not first at an agent's reply; accounts with one are not.
func TestNoAppSecretWarnedAtStart(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Accounts[1].AppSecret = ""
	core, logs := observer.New(zapcore.WarnLevel)
	_, err := wechat.New(cfg, zap.New(core), nil, nil)
	require.NoError(t, err)
	got := logs.FilterMessageSnippet("without app_secret").All()
	require.Len(t, got, 1)
	require.Equal(t, cfg.Accounts[1].ID, got[0].ContextMap()["account"])
}
