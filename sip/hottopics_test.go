package sip

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/hottopic"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// TestHotTopic: a topic published for 12345 (a WAV of 800 Hz here) is heard
// right after the welcome, then "press 1 … 0 …"; 0 sends the caller to the
// queue, no key too; 1 closes the contact resolved by the IVR, never
// queued, and the gateway hangs up. A topic for another line is not heard;
// a withdrawn one no more.
func TestHotTopic(t *testing.T) {
	rs := queuetest.RedisServer(t)
	store := hottopic.New(rs.Client(t), "{lianxin}:", nil)
	e := newEnvWith(t, rs, "node-a", func(p *Params) { p.HotTopics = store },
		func(c *Config) { c.HotTopics.Timeout = 500 * time.Millisecond })
	ctx := context.Background()
	answer := siptest.EncodeWAV(siptest.SineWave(toneAnswer, 8000, 8000), siptest.SampleRate) // 1 s
	topic, err := store.PublishWAV(ctx, "12345", "今天停水", "1005", answer)
	require.NoError(t, err)
	_, err = store.PublishWAV(ctx, "12315", "别的线路", "1005", siptest.EncodeWAV(siptest.SineWave(toneNotice, 8000, 8000), siptest.SampleRate))
	require.NoError(t, err)
	eventually(t, 500, "the node has the topics", func() bool { return len(e.s.hot.forLine("12345")) == 1 })

	// 0: to the queue.
	c := dial(t, e, "12345", "13800138901", media.PCMU)
	eventually(t, 500, "the topic plays", func() bool { return hasTone(heard(c.rtp.packets()), toneAnswer) })
	eventually(t, 500, "then the press-1 prompt", func() bool {
		seq := sequence(c.rtp.packets())
		return len(seq) >= 3 && seq[2] == toneMenu
	})
	c.rtp.press(0)
	ct := waitQueued(t, e, "12345")
	require.Equal(t, queue.StateWaiting, ct.State)
	seq := sequence(c.rtp.packets())
	require.Equal(t, []float64{toneWelcome, toneAnswer, toneMenu}, seq[:3], "heard %v", seq)
	require.NotContains(t, seq, toneNotice, "not the other line's topic")
	c.hangup(t)
	c.rtp.close()

	// 1: resolved by the IVR.
	c = dial(t, e, "12345", "13800138902", media.PCMU)
	eventually(t, 500, "the press-1 prompt", func() bool {
		seq := sequence(c.rtp.packets())
		return len(seq) >= 3 && seq[2] == toneMenu
	})
	c.rtp.press(1)
	eventually(t, 500, "the gateway hangs up", func() bool { return c.byes.Load() > 0 })
	got := contactOf(t, e, "+8613800138902")
	require.Equal(t, queue.StateClosed, got.State)
	require.Equal(t, queue.OutcomeResolved, got.Outcome)
	require.Equal(t, queue.ResolvedByIVR, got.ResolvedBy)
	require.Empty(t, got.Agent)
	stats, err := e.q.CallStats(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, stats["general"].IVRResolved)
	require.Equal(t, 1.0, testutil.ToFloat64(e.s.metrics.ivr.ivrResolved))
	require.Equal(t, 1.0, testutil.ToFloat64(e.s.metrics.ended.WithLabelValues(byIVR)))
	c.rtp.close()

	// No key: to the queue after the timeout.
	c = dial(t, e, "12345", "13800138904", media.PCMU)
	eventually(t, 500, "queued after no key", func() bool {
		got := contactOf(t, e, "+8613800138904")
		return got.State == queue.StateWaiting
	})
	require.Contains(t, sequence(c.rtp.packets()), toneAnswer)
	c.hangup(t)
	c.rtp.close()

	// Withdrawn: the next caller goes from the welcome to the queue.
	require.NoError(t, store.Withdraw(ctx, topic.ID))
	eventually(t, 500, "the node dropped it", func() bool { return len(e.s.hot.forLine("12345")) == 0 })
	c = dial(t, e, "12345", "13800138903", media.PCMU)
	eventually(t, 500, "hold audio", func() bool { return hasTone(heard(c.rtp.packets()), toneHold) })
	require.NotContains(t, sequence(c.rtp.packets()), toneAnswer)
	c.hangup(t)
}
