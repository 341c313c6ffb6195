package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lianxin/lianxin/agentdesk"
	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// pathReplier is an SMS replier whose path can be taken away.
type pathReplier struct {
	can     error // what CanReply says
	replies []string
}

func (p *pathReplier) CanReply(context.Context, *queue.Contact) error { return p.can }

func (p *pathReplier) Reply(_ context.Context, c *queue.Contact, text string) error {
	if p.can != nil {
		return p.can
	}
	p.replies = append(p.replies, c.TrackingNo+" "+text)
	return nil
}

// TestRatingNotAskedWithoutAPath: a contact no reply can reach (no SMS path
// that sends, a closed reply window) is not recorded as asked for a rating
// (a stray "1" from the citizen would otherwise rate it, and it would show as
// asked), nothing is sent, and the operator reads one warning for the
// channel, not one per wrap-up. Once the path is there, the citizen is asked.
func TestRatingNotAskedWithoutAPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, err := queue.New(queuetest.RedisServer(t).Client(t), queue.Options{NodeID: "n1",
		Queues: []queue.Def{{Name: "general"}}})
	require.NoError(t, err)
	var tns []string
	for i := range 3 {
		r, err := q.Receive(ctx, queue.Intake{Channel: queue.ChannelSMS, Line: "12345", Queue: "general",
			Citizen: queue.Citizen{Address: fmt.Sprintf("+861380013800%d", i), Phone: fmt.Sprintf("+861380013800%d", i)},
			Text:    "路灯坏了"}, fmt.Sprintf("sms-%d", i))
		require.NoError(t, err)
		tns = append(tns, r.TrackingNo)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	sms := &pathReplier{can: fmt.Errorf("%w: no SMS path can send", channels.ErrNoReplyPath)}
	r := ratingAsker{q: q, repliers: map[queue.Channel]agentdesk.Replier{queue.ChannelSMS: sms},
		cfg: configs.Rating{Window: time.Hour}, log: zap.New(core), unable: &unableLog{}}
	asked := func(tn string) bool {
		c, err := q.Contact(ctx, tn)
		require.NoError(t, err)
		return c.RatingAsked
	}

	r.ask(ctx, tns[0], queue.ChannelSMS)
	r.ask(ctx, tns[1], queue.ChannelSMS)
	require.False(t, asked(tns[0]))
	require.False(t, asked(tns[1]))
	require.Empty(t, sms.replies)
	warns := logs.FilterLevelExact(zapcore.WarnLevel).All()
	require.Len(t, warns, 1, "one warning for the channel, not one per contact")
	require.Equal(t, "sms", warns[0].ContextMap()["channel"])
	require.EqualValues(t, 1, warns[0].ContextMap()["contacts"])

	sms.can = fmt.Errorf("%w: the citizen last wrote 3 days ago", channels.ErrReplyWindowClosed)
	r.ask(ctx, tns[2], queue.ChannelSMS)
	require.False(t, asked(tns[2]))
	require.Len(t, logs.FilterLevelExact(zapcore.WarnLevel).All(), 1, "a closed window is no operator's matter")

	sms.can = nil
	r.ask(ctx, tns[0], queue.ChannelSMS)
	require.True(t, asked(tns[0]))
	require.Equal(t, []string{tns[0] + " " + channels.RatingQuestion}, sms.replies)
}

// TestUnableLogEveryTenMinutes: the count of contacts left unasked is logged
// at the first and then once every unableEvery per channel, with the
// contacts since the last line.
func TestUnableLogEveryTenMinutes(t *testing.T) {
	var u unableLog
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	n, now := u.note(queue.ChannelSMS, t0)
	require.True(t, now)
	require.Equal(t, 1, n)
	for i := range 5 {
		_, now = u.note(queue.ChannelSMS, t0.Add(time.Duration(i+1)*time.Minute))
		require.False(t, now)
	}
	n, now = u.note(queue.ChannelWeChat, t0.Add(6*time.Minute))
	require.True(t, now, "another channel has its own count")
	require.Equal(t, 1, n)
	n, now = u.note(queue.ChannelSMS, t0.Add(unableEvery))
	require.True(t, now)
	require.Equal(t, 6, n)
}
