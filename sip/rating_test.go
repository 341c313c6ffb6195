package sip

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

func withRating(c *Config) {
	c.Rating = Rating{Enabled: true, Timeout: 3 * time.Second, Retries: 5}
}

// TestSippRating: a sipp caller talks to the agent, stays on the line when
// the agent hangs up, hears the rating prompt and presses 2 (RFC 4733); the
// contact shows 基本满意 with the time, and the gateway hangs up.
func TestSippRating(t *testing.T) {
	siptest.RequireTools(t, "sipp")
	e := newEnv(t, withRating)
	ph := newPhone(t, e, "1001", 0)
	e.seat("1001")
	run := siptest.Sipp(t, siptest.SippOptions{Scenario: "caller-rate.xml", Target: e.s.Addr().String(), Service: "12345",
		Vars: map[string]string{"digit": "2", "caller": "13800138701"}})
	eventually(t, 1000, "the agent hears the caller", func() bool { return hasTone(heard(ph.rtp.packets()), toneCaller) })
	d := <-ph.sessions
	tn := ph.contact.Load().(string)
	require.Nil(t, contactOf(t, e, "+8613800138701").Rating, "keys pressed while talking are not a rating")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, d.Bye(ctx))
	res, err := run.Wait()
	require.NoError(t, err, "sipp: %s", res.Errors)
	require.Equal(t, 1, res.Successful, "sipp: %s\n%s", res.Errors, res.Screen)
	ct, err := e.q.Contact(context.Background(), tn)
	require.NoError(t, err)
	require.NotNil(t, ct.Rating, "the contact is rated")
	require.Equal(t, 2, ct.Rating.Score)
	require.Equal(t, "基本满意", ct.Rating.Label)
	require.WithinDuration(t, time.Now(), ct.Rating.At, time.Minute)
	require.Equal(t, queue.StateWrapUp, ct.State, "the agent wraps up meanwhile")
}

// TestRatingAfterTalk listens: after the agent hangs up the caller hears
// the rating prompt (a key pressed while talking is not taken), presses 3,
// hears thanks and gets BYE; the contact is rated 不满意. A caller who
// presses nothing hears the prompt Retries+1 times, then goodbye, unrated.
func TestRatingAfterTalk(t *testing.T) {
	e := newEnv(t, withRating)
	ph := newPhone(t, e, "1001", 0)
	e.seat("1001")
	c := dial(t, e, "12345", "13800138702", media.PCMU)
	eventually(t, 500, "talking", func() bool { return hasTone(heard(ph.rtp.packets()), toneCaller) })
	c.rtp.press(1) // to the agent, not a rating
	eventually(t, 200, "the key reaches the phone", func() bool {
		for _, p := range ph.rtp.packets() {
			if p.PayloadType == 101 {
				return true
			}
		}
		return false
	})
	tn := ph.contact.Load().(string)
	d := <-ph.sessions
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, d.Bye(ctx))
	eventually(t, 500, "the rating prompt", func() bool { return hasTone(heard(c.rtp.packets()), toneRating) })
	require.Zero(t, c.byes.Load(), "the caller stays on the line")
	c.rtp.press(3)
	eventually(t, 500, "the caller gets BYE", func() bool { return c.byes.Load() > 0 })
	seq := sequence(c.rtp.packets())
	require.Equal(t, []float64{toneAgent, toneRating, toneThanks}, seq[len(seq)-3:], "heard %v", seq)
	ct, err := e.q.Contact(context.Background(), tn)
	require.NoError(t, err)
	require.Equal(t, "不满意", ct.Rating.Label)

	// No key: the prompt again, then goodbye, no rating. (The first call's
	// peers stop first: their RTP would reach the next call's ports.)
	c.rtp.close()
	ph.rtp.close()
	e2 := newEnv(t, func(c *Config) { c.Rating = Rating{Enabled: true, Timeout: 200 * time.Millisecond, Retries: 1} })
	ph2 := newPhone(t, e2, "1002", 0)
	e2.seat("1002")
	c2 := dial(t, e2, "12345", "13800138703", media.PCMU)
	eventually(t, 500, "talking", func() bool { return hasTone(heard(ph2.rtp.packets()), toneCaller) })
	tn2 := ph2.contact.Load().(string)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second) // the first's may be spent by now
	defer cancel2()
	require.NoError(t, (<-ph2.sessions).Bye(ctx2))
	eventually(t, 500, "the caller gets BYE", func() bool { return c2.byes.Load() > 0 })
	n := 0
	for _, pcm := range heard(c2.rtp.packets()) {
		if toneOf(pcm) == toneRating {
			n++
		}
	}
	// The prompt is 400 ms: 20 packets each time.
	require.GreaterOrEqual(t, n, 38, "the prompt twice: %d packets", n)
	require.LessOrEqual(t, n, 42, "the prompt twice: %d packets", n)
	ct, err = e2.q.Contact(context.Background(), tn2)
	require.NoError(t, err)
	require.Nil(t, ct.Rating)
	require.True(t, ct.RatingAsked)
}
