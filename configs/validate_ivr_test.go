package configs

import (
	"testing"
	"time"

	"github.com/lianxin/lianxin/sip"
	"github.com/stretchr/testify/require"
)

func TestDefaultIVR(t *testing.T) {
	c, err := Default()
	require.NoError(t, err)
	require.Equal(t, sip.Rating{Enabled: true, Prompt: "rating", Thanks: "rating-thanks", Timeout: 5 * time.Second, Retries: 1}, c.SIP.Rating)
	require.Equal(t, sip.Recording{Lines: []string{}, Notice: "recording-notice", Retention: 2160 * time.Hour, Buffer: 150,
		MaxBytes: 256 << 20}, c.SIP.Recording)
	require.Equal(t, sip.HotTopics{TTS: []string{}, Prompt: "hot-topic-menu", Timeout: 5 * time.Second, Refresh: 10 * time.Second},
		c.SIP.HotTopics)
	require.Equal(t, Rating{Window: 72 * time.Hour}, c.Rating)
}

func TestValidateIVR(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		want   []string
	}{
		{"ok", func(c *Config) {
			c.SIP.Recording.Lines = []string{"12345", "*"}
			c.Rating.PublicURL = "https://12345.example.gov.cn"
		}, nil},
		{"rating", func(c *Config) {
			c.SIP.Rating.Prompt, c.SIP.Rating.Timeout, c.SIP.Rating.Retries = "rate-me", 0, 9
		}, []string{`sip.rating.prompt: no prompt "rate-me": no rate-me.wav among the embedded prompts`,
			"sip.rating.timeout: must be > 0", "sip.rating.retries: 9: must be 0–5"}},
		{"rating off", func(c *Config) { c.SIP.Rating.Enabled, c.SIP.Rating.Prompt = false, "rate-me" }, nil},
		{"recording", func(c *Config) {
			c.SIP.Recording = sip.Recording{Lines: []string{"12 345"}, Notice: "nope", Buffer: 1, MaxBytes: 10}
		}, []string{`sip.recording.lines: "12 345": a line's number (digits, as in the directory) or * for every line`,
			`sip.recording.notice: no prompt "nope": no nope.wav among the embedded prompts`,
			"sip.recording.retention: must be > 0", "sip.recording.buffer: 1: at least 10 frames (200 ms)",
			"sip.recording.max_bytes: 10: at least 1 MiB"}},
		{"hot topics and text rating", func(c *Config) {
			c.SIP.HotTopics.Timeout, c.Rating.Window, c.Rating.PublicURL = 0, 0, "javascript:alert(1)"
		}, []string{"sip.hot_topics.timeout: must be > 0", "rating.window: must be > 0",
			`rating.public_url: "javascript:alert(1)": an http(s) URL with a host, e.g. https://12345.example.gov.cn`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Default()
			require.NoError(t, err)
			tc.change(c)
			require.Equal(t, tc.want, fieldErrors(c.Validate()))
		})
	}
}
