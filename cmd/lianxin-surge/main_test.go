package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/internal/loadsim"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// A small replay end to end: a redis-server and a lianxin process started
// for it, 1/4000 of the surge (397 contacts) through every intake channel
// to 60 desks — 238 of them calls placed by sipp to 12345, which the
// desks' phones (one sipp) answer. Every acknowledged contact is offered
// exactly once, under the tracking number its acknowledgement gave; every
// call is answered by the gateway, offered, answered by an agent's phone
// and hung up by the gateway after the talk; and the figures are sane.
func TestReplaySmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a node")
	}
	siptest.RequireTools(t, "sipp")
	ctx := context.Background()
	bin, err := loadsim.Build(ctx, t.TempDir())
	require.NoError(t, err)
	res, err := run(ctx, options{scale: 4000, duration: 10 * time.Second, agents: 60, capacity: 3, workers: 16,
		mix: defaultMix, bin: bin, sl: 20 * time.Second, drain: 2 * time.Minute, retries: 10, quiet: true,
		talk: time.Second, ring: 100 * time.Millisecond})
	require.NoError(t, err)
	var report bytes.Buffer
	res.print(&report)
	t.Log(report.String())

	require.Equal(t, 397, res.Contacts)
	require.Equal(t, res.Contacts, res.Acked, "every contact acknowledged: %v", res.RefusedBy)
	require.Zero(t, res.Lost)
	require.Zero(t, res.Duplicated)
	require.Zero(t, res.Mismatched)
	require.Zero(t, res.Unacked)
	require.Equal(t, res.Contacts, res.Offered)
	for _, c := range channels {
		require.Positive(t, res.ByChannel[c], "channel %s replayed", c)
		require.Positive(t, res.LatByChannel[c][0], "channel %s: a latency", c)
	}
	require.Positive(t, res.P50)
	require.LessOrEqual(t, res.P50, res.P90)
	require.LessOrEqual(t, res.P90, res.P99)
	require.LessOrEqual(t, res.P99, res.Max)
	require.Positive(t, res.IntakeRate)
	require.Positive(t, res.RoutedRate)
	require.GreaterOrEqual(t, res.PeakRate, 1.0)
	require.Greater(t, res.ServiceLevel, 0.0)
	require.LessOrEqual(t, res.ServiceLevel, 1.0)
	require.Positive(t, res.RedisCPU)
	require.Positive(t, res.RedisMemStart)
	require.Greater(t, res.RedisMemEnd, res.RedisMemStart, "the contacts are in Redis")
	require.GreaterOrEqual(t, res.RedisMemPeak, res.RedisMemEnd)
	require.Positive(t, res.NodeCPU)

	c := res.Calls
	require.Equal(t, res.ByChannel[chanVoice], c.Calls)
	require.Greater(t, c.Calls, res.Contacts/2, "calls are the larger part of the mix")
	for what, k := range map[string]int{"placed": c.Placed, "answered by the gateway": c.Answered,
		"offered": c.Offered, "answered by a phone": c.Taken, "hung up after the talk": c.Ended} {
		require.Equal(t, c.Calls, k, "calls %s; sipp callers: %s", what, c.SippCallers)
	}
	for what, k := range map[string]int{"refused": c.Refused, "lost": c.Lost, "duplicated": c.Duplicated,
		"abandoned": c.Abandoned, "unanswered": c.Unanswered} {
		require.Zero(t, k, "calls %s", what)
	}
	require.Equal(t, fmt.Sprintf("%d calls, %d successful, 0 failed", c.Calls, c.Calls), c.SippCallers)
	require.Positive(t, c.ToOffer[0])
	require.LessOrEqual(t, c.ToOffer[0], c.ToOffer[2])
	require.Positive(t, c.Ring[0], "the phone rings before it answers")
	require.Positive(t, c.Peak, "the node held calls")
	wraps := 0
	for k, v := range res.Wrapups {
		require.True(t, strings.HasSuffix(k, "/resolved") || strings.HasSuffix(k, "/dispatched"), k)
		wraps += v
	}
	require.LessOrEqual(t, wraps, res.Contacts)
	require.Empty(t, res.DeskErrors)
}

// The schedule holds exactly n contacts, in order within the span, with
// the surge's peak day busiest and each channel's share kept.
func TestSchedule(t *testing.T) {
	mix, err := parseMix(defaultMix)
	require.NoError(t, err)
	span := 26 * time.Minute
	plan := schedule(79395, span, mix)
	require.Len(t, plan, 79395)
	require.True(t, slices.IsSortedFunc(plan, func(a, b arrival) int { return int(a.at - b.at) }))
	require.GreaterOrEqual(t, plan[0].at, time.Duration(0))
	require.Less(t, plan[len(plan)-1].at, span)
	perDay := make([]int, surgeDays)
	count := map[channel]int{}
	for _, a := range plan {
		perDay[a.at/time.Minute]++
		count[a.channel]++
	}
	require.Equal(t, 8, slices.Index(perDay, slices.Max(perDay)), "2 September is the busiest day: %v", perDay)
	for c, share := range mix {
		require.InDelta(t, share*79395, count[c], 1, c)
	}

	// The wrap-ups: the seed's 88.27 % answered on the spot.
	resolved := 0
	for i := range 100000 {
		if _, o := wrapup(i); o == "resolved" {
			resolved++
		}
	}
	require.InDelta(t, 0.8827, float64(resolved)/100000, 0.005)
}

func TestParseMixErrors(t *testing.T) {
	for in, want := range map[string]string{
		"web":                   `"web" is not channel=weight`,
		"fax=3":                 `"fax" is not one of`,
		"web=-1":                `weight of web: "-1" is not a number ≥ 0`,
		"web=0,wechat=0":        "the weights sum to 0",
		"web=NaN":               "is not a number",
		"web=1e308,email=1e308": "too large",
	} {
		_, err := parseMix(in)
		require.ErrorContains(t, err, want, in)
	}
}

func FuzzParseMix(f *testing.F) {
	f.Add(defaultMix)
	f.Add("web=1")
	f.Add("web=1e308,email=1e308")
	f.Add("=,")
	f.Fuzz(func(t *testing.T, s string) {
		mix, err := parseMix(s)
		if err != nil {
			return
		}
		var sum float64
		for c, v := range mix {
			require.Contains(t, channels, c)
			require.False(t, v < 0 || math.IsNaN(v), "%s=%v", c, v)
			sum += v
		}
		require.InDelta(t, 1, sum, 1e-9, s)
	})
}

// A call's offer names it by its caller's number; other numbers name none.
func TestCallIndex(t *testing.T) {
	for _, i := range []int{0, 7, 1587899} {
		require.Equal(t, i, callIndex("+86"+callerPhone(i)))
	}
	for _, p := range []string{"", "anonymous", "+8613900000001", "+86137000000012", "+86137abcdefgh", "13700000001"} {
		require.Equal(t, -1, callIndex(p), p)
	}
}
