package hottopic_test

import (
	"bytes"
	"context"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lianxin/lianxin/hottopic"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// TestPublishSpeaks: a topic published with the default TTS (espeak-ng
// and sox, as the prompts are made) is stored with its speech — an 8 kHz
// WAV of the right length with sound in it — listed, announced to a
// watching node, and withdrawn everywhere.
func TestPublishSpeaks(t *testing.T) {
	siptest.RequireTools(t, "espeak-ng", "sox") // scripts/install-test-deps.sh installs them
	rs := queuetest.RedisServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := hottopic.New(rs.Client(t), "{lianxin}:", nil)
	b := hottopic.New(rs.Client(t), "{lianxin}:", nil) // another node
	var notices atomic.Int32
	watching := make(chan struct{})
	go func() {
		_ = b.Watch(ctx, func() {
			if notices.Add(1) == 1 {
				close(watching)
			}
		})
	}()
	<-watching

	topic, err := a.Publish(ctx, "12345", "今天下午三点到六点，城东片区停水检修，请提前储水。", "1005")
	require.NoError(t, err)
	require.Equal(t, "12345", topic.Line)
	require.Equal(t, "1005", topic.By)
	list, err := b.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, topic.ID, list[0].ID)
	require.Equal(t, topic.Text, list[0].Text)
	wav, err := b.Audio(ctx, topic.ID)
	require.NoError(t, err)
	pcm, err := media.ReadWAV(bytes.NewReader(wav))
	require.NoError(t, err)
	secs := float64(len(pcm)) / 8000
	require.Greater(t, secs, 2.0, "about 25 syllables of speech")
	require.Less(t, secs, 20.0)
	var sum float64
	for _, s := range pcm {
		sum += float64(s) * float64(s)
	}
	require.Greater(t, math.Sqrt(sum/float64(len(pcm))), 500.0, "there is sound in it")
	require.Eventually(t, func() bool { return notices.Load() >= 2 }, 10*time.Second, 20*time.Millisecond, "the other node was told")

	require.NoError(t, a.Withdraw(ctx, topic.ID))
	list, err = b.List(ctx)
	require.NoError(t, err)
	require.Empty(t, list)
	require.ErrorIs(t, a.Withdraw(ctx, topic.ID), hottopic.ErrNotFound)
	_, err = b.Audio(ctx, topic.ID)
	require.ErrorIs(t, err, hottopic.ErrNotFound)
	require.Eventually(t, func() bool { return notices.Load() >= 3 }, 10*time.Second, 20*time.Millisecond)
}

// TestPublishRefuses: a bad line, an empty or too long text, and a missing
// or failing TTS are refused with a Chinese error naming the problem, and
// nothing is stored.
func TestPublishRefuses(t *testing.T) {
	rs := queuetest.RedisServer(t)
	ctx := context.Background()
	s := hottopic.New(rs.Client(t), "{lianxin}:", []string{"/nonexistent/tts"})
	_, err := s.Publish(ctx, "12345", "停水通知", "1005")
	require.ErrorIs(t, err, hottopic.ErrNoTTS)
	require.Contains(t, err.Error(), "未安装语音合成程序")
	fail := hottopic.New(rs.Client(t), "{lianxin}:", []string{"sh", "-c", "echo broken >&2; exit 3"})
	_, err = fail.Publish(ctx, "12345", "停水通知", "1005")
	require.ErrorIs(t, err, hottopic.ErrNoTTS)
	require.Contains(t, err.Error(), "语音合成失败")
	notWAV := hottopic.New(rs.Client(t), "{lianxin}:", []string{"cat"})
	_, err = notWAV.Publish(ctx, "12345", "停水通知", "1005")
	require.ErrorIs(t, err, hottopic.ErrNoTTS)
	for _, tc := range []struct{ line, text, want string }{
		{"12a45", "停水", "线路"}, {"", "停水", "线路"}, {"12345", "  ", "内容"},
		{"*", strings.Repeat("停", hottopic.MaxRunes+1), "内容"},
	} {
		_, err := s.Publish(ctx, tc.line, tc.text, "1005")
		require.ErrorIs(t, err, hottopic.ErrInvalid, "%q %q", tc.line, tc.text)
		require.Contains(t, err.Error(), tc.want)
	}
	list, err := s.List(ctx)
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestSpokenDigits(t *testing.T) {
	require.Equal(t, "拨打一二三四五，零点五", hottopic.SpokenDigits("拨打12345，0点5"))
}

// FuzzFixStreamedWAV: any bytes come back the same length, and a streamed
// WAV's sizes come back true.
func FuzzFixStreamedWAV(f *testing.F) {
	f.Add([]byte("RIFF\xff\xff\xff\x7fWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\xff\xff\xff\x7f\x01\x00\x02\x00"))
	f.Add([]byte("RIFF"))
	f.Add([]byte{})
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := hottopic.FixStreamedWAV(b)
		require.Len(t, out, len(b))
		if _, err := media.ReadWAV(bytes.NewReader(out)); err == nil {
			require.Equal(t, "RIFF", string(out[:4]))
		}
	})
}
