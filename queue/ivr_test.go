package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestRating: a contact is rated once, only after it was asked, within the
// window; the rating shows on the contact with its label and time, and is
// counted by channel and score.
func TestRating(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.agent(e.q, "a1", general, nil)
		tn := e.letter("general", "路灯不亮")
		e.finish("a1", tn)

		require.ErrorIs(t, e.q.Rate(e.ctx, tn, 2), queue.ErrWrongState, "not asked yet")
		first, err := e.q.AskRating(e.ctx, tn, queue.RatingAsk{Window: time.Hour})
		require.NoError(t, err)
		require.True(t, first)
		first, err = e.q.AskRating(e.ctx, tn, queue.RatingAsk{Window: time.Hour})
		require.NoError(t, err)
		require.False(t, first, "asked once per contact")
		require.True(t, e.contact(tn).RatingAsked)

		require.ErrorIs(t, e.q.Rate(e.ctx, tn, 4), queue.ErrInvalid)
		require.ErrorIs(t, e.q.Rate(e.ctx, "260101000000019", 2), queue.ErrNotFound)
		e.clock.Add(time.Minute)
		require.NoError(t, e.q.Rate(e.ctx, tn, 2))
		c := e.contact(tn)
		require.NotNil(t, c.Rating)
		require.Equal(t, 2, c.Rating.Score)
		require.Equal(t, "基本满意", c.Rating.Label)
		require.Equal(t, e.clock.Now().UTC().Truncate(time.Millisecond), c.Rating.At)
		require.ErrorIs(t, e.q.Rate(e.ctx, tn, 1), queue.ErrWrongState, "rated twice")
		require.Equal(t, 2, e.contact(tn).Rating.Score, "the first rating stands")

		// Past the window the answer is refused.
		tn2 := e.letter("general", "噪音")
		e.finish("a1", tn2)
		_, err = e.q.AskRating(e.ctx, tn2, queue.RatingAsk{Window: time.Hour})
		require.NoError(t, err)
		e.clock.Add(time.Hour + time.Second)
		require.ErrorIs(t, e.q.Rate(e.ctx, tn2, 3), queue.ErrWrongState)
		require.Nil(t, e.contact(tn2).Rating)

		n, err := e.q.Ratings(e.ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int64{"mailbox:2": 1}, n)
	})
}

// TestRateByReply: a texter's bare digit rates their last asked, unrated
// contact on that channel — not another citizen's, not one on another
// channel — and only once; a token rates the contact its link names, once.
func TestRateByReply(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.agent(e.q, "a1", general, map[queue.Channel]int{queue.ChannelSMS: 2, queue.ChannelMailbox: 1})
		sms := func(phone string) string {
			return e.enqueue(queue.Intake{Channel: queue.ChannelSMS, Line: "12345", Queue: "general", Text: "你好",
				Citizen: queue.Citizen{Address: phone, Phone: phone}})
		}
		older, newer, other := sms("+8613800138000"), sms("+8613800138000"), sms("+8613900139000")
		for _, tn := range []string{older, newer, other} {
			e.finish("a1", tn)
		}
		key := queue.ReplyKey(queue.ChannelSMS, "+8613800138000")
		_, err := e.q.RateByReply(e.ctx, key, 3, "")
		require.ErrorIs(t, err, queue.ErrNotFound, "nothing asked yet")
		for _, tn := range []string{older, newer} {
			_, err := e.q.AskRating(e.ctx, tn, queue.RatingAsk{Window: time.Hour, Reply: key})
			require.NoError(t, err)
		}
		_, err = e.q.AskRating(e.ctx, other, queue.RatingAsk{Window: time.Hour,
			Reply: queue.ReplyKey(queue.ChannelSMS, "+8613900139000")})
		require.NoError(t, err)
		got, err := e.q.RateByReply(e.ctx, key, 3, "smsc:msg-1")
		require.NoError(t, err)
		require.Equal(t, newer, got, "the last asked contact")
		got, err = e.q.RateByReply(e.ctx, key, 3, "smsc:msg-1")
		require.NoError(t, err, "a redelivery of the same answer")
		require.Equal(t, newer, got)
		require.Equal(t, 3, e.contact(newer).Rating.Score)
		require.Nil(t, e.contact(older).Rating)
		require.Nil(t, e.contact(other).Rating)
		_, err = e.q.RateByReply(e.ctx, key, 1, "smsc:msg-2")
		require.ErrorIs(t, err, queue.ErrNotFound, "the reply rated already")
		_, err = e.q.RateByReply(e.ctx, queue.ReplyKey(queue.ChannelWeChat, "+8613800138000"), 1, "")
		require.ErrorIs(t, err, queue.ErrNotFound, "another channel")

		letter := e.letter("general", "来信")
		e.finish("a1", letter)
		_, err = e.q.AskRating(e.ctx, letter, queue.RatingAsk{Window: time.Hour, Token: "tok123"})
		require.NoError(t, err)
		c, err := e.q.RatingByToken(e.ctx, "tok123")
		require.NoError(t, err)
		require.Equal(t, letter, c.TrackingNo)
		got, err = e.q.RateByToken(e.ctx, "tok123", 1)
		require.NoError(t, err)
		require.Equal(t, letter, got)
		_, err = e.q.RateByToken(e.ctx, "tok123", 1)
		require.ErrorIs(t, err, queue.ErrNotFound, "a link rates once")
		_, err = e.q.RatingByToken(e.ctx, "tok123")
		require.ErrorIs(t, err, queue.ErrNotFound)
	})
}

// TestResolveCallByIVR: a caller the hot-topic answer settled makes a
// closed contact, outcome resolved by the IVR, never offered to the ready
// agent, counted apart; the same Call-ID again is the same contact.
func TestResolveCallByIVR(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.agent(e.q, "a1", general, map[queue.Channel]int{queue.ChannelVoice: 1})
		require.NoError(t, e.q.SetPhone(e.ctx, "a1", e.clock.Now().Add(time.Hour)))
		in := queue.Intake{Line: "12345", Queue: "general", Citizen: queue.Citizen{Address: "+8613800138000", Phone: "+8613800138000"}}
		r, err := e.q.ResolveCallByIVR(e.ctx, in, queue.Call{ID: "call-1", Node: "node-a"})
		require.NoError(t, err)
		c := e.contact(r.TrackingNo)
		require.Equal(t, queue.StateClosed, c.State)
		require.Equal(t, queue.OutcomeResolved, c.Outcome)
		require.Equal(t, queue.ResolvedByIVR, c.ResolvedBy)
		require.Empty(t, c.Agent)
		st, err := e.q.Status(e.ctx, "a1")
		require.NoError(t, err)
		require.Equal(t, queue.AgentReady, st.State, "nothing offered")
		again, err := e.q.ResolveCallByIVR(e.ctx, in, queue.Call{ID: "call-1", Node: "node-a"})
		require.NoError(t, err)
		require.Equal(t, r.TrackingNo, again.TrackingNo)
		stats, err := e.q.CallStats(e.ctx)
		require.NoError(t, err)
		require.Equal(t, int64(1), stats["general"].IVRResolved)
		require.Equal(t, int64(0), stats["general"].Answered)
	})
}

// TestRecordingRetention: a recording is referenced from its contact and
// listed for deletion once older than the cutoff; forgetting it drops it.
func TestRecordingRetention(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		tn := e.letter("general", "x")
		at := e.clock.Now()
		require.ErrorIs(t, e.q.SetRecording(e.ctx, "260101000000019", queue.Recording{SHA256: "ab"}), queue.ErrNotFound)
		require.NoError(t, e.q.SetRecording(context.Background(), tn, queue.Recording{SHA256: "abc", Type: "audio/wav", At: at}))
		c := e.contact(tn)
		require.Equal(t, &queue.Recording{SHA256: "abc", Type: "audio/wav", At: at.UTC()}, c.Recording)
		old, err := e.q.ExpiredRecordings(e.ctx, at.Add(-time.Second), 10)
		require.NoError(t, err)
		require.Empty(t, old)
		old, err = e.q.ExpiredRecordings(e.ctx, at.Add(time.Second), 10)
		require.NoError(t, err)
		require.Equal(t, map[string]string{tn: "abc"}, old)
		require.NoError(t, e.q.ForgetRecording(e.ctx, tn))
		require.Nil(t, e.contact(tn).Recording)
		old, err = e.q.ExpiredRecordings(e.ctx, at.Add(time.Second), 10)
		require.NoError(t, err)
		require.Empty(t, old)
	})
}
