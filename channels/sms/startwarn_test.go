package sms

import (
	"testing"

	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestNoSendPathWarnedAtStart: a gateway that takes SMS in but has no path
// to send says so once when it starts (acknowledgements, replies and rating
// questions cannot go out), not first at an agent's reply; one with a path,
// or with no SMS at all, says nothing of it.
func TestNoSendPathWarnedAtStart(t *testing.T) {
	q := newQueue(t, queuetest.Miniredis(t))
	warned := func(edit func(*Config)) int {
		core, logs := observer.New(zapcore.WarnLevel)
		c := Config{Routes: []Route{{To: "123456", Line: "12345-6", Queue: "enterprise"}}}
		edit(&c)
		_, err := New(c, zap.New(core), q)
		require.NoError(t, err)
		return logs.FilterMessageSnippet("no path can send").Len()
	}
	require.Equal(t, 1, warned(func(c *Config) { c.Aliyun.Enabled = true }), "intake, nothing sends")
	require.Equal(t, 1, warned(func(c *Config) {
		c.Generic = Generic{Enabled: true, Secret: "0123456789abcdef-secret"}
	}), "the generic push, nothing sends")
	require.Equal(t, 0, warned(func(c *Config) {
		c.Aliyun.Enabled = true
		c.Aliyun.Send = aliyunSend("http://127.0.0.1:1")
	}), "Aliyun sends")
	require.Equal(t, 0, warned(func(*Config) {}), "no SMS at all")
}
