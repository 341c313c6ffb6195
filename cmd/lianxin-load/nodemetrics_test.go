package main

import (
	"context"
	"math"
	"net/http/httptest"
	"testing"

	"github.com/lianxin/lianxin/internal/loadsim"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"
)

// The tool reads a node's histograms from its /metrics as Prometheus serves
// them and estimates their quantiles over the run as histogram_quantile
// does: linear within a bucket, over what was added since the first read.
func TestNodeHistogramsOverTheRun(t *testing.T) {
	reg := prometheus.NewRegistry()
	feed := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lianxin_feed_delay_seconds",
		Buckets: []float64{.001, .01, .1}})
	scripts := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lianxin_redis_script_seconds",
		Buckets: []float64{.001, .01}}, []string{"script"})
	reg.MustRegister(feed, scripts)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	ctx := context.Background()

	// Before the run: 1,000 slow events that must not count.
	for range 1000 {
		feed.Observe(5)
	}
	before, err := loadsim.ScrapeHistograms(ctx, srv.URL)
	require.NoError(t, err)
	// The run: 100 events, 50 in (0, 1 ms], 40 in (1, 10 ms], 10 in (10, 100 ms].
	for i := range 100 {
		switch {
		case i < 50:
			feed.Observe(.0005)
		case i < 90:
			feed.Observe(.005)
		default:
			feed.Observe(.05)
		}
	}
	for range 200 {
		scripts.WithLabelValues("accept").Observe(.0002)
	}
	scripts.WithLabelValues("accept").Observe(3) // beyond the last bound
	after, err := loadsim.ScrapeHistograms(ctx, srv.URL)
	require.NoError(t, err)

	h := after["lianxin_feed_delay_seconds"][""].Since(before["lianxin_feed_delay_seconds"][""])
	require.InDelta(t, 100, h.Count(), 0)
	require.InDelta(t, .001, h.Quantile(.5), 1e-12, "the 50th of 100 is the top of the first bucket")
	require.InDelta(t, .001+.009*(60.0-50)/40, h.Quantile(.6), 1e-12)
	require.InDelta(t, .01+.09*(99.0-90)/10, h.Quantile(.99), 1e-12)
	a := after["lianxin_redis_script_seconds"]["accept"]
	require.InDelta(t, 201, a.Count(), 0)
	require.InDelta(t, .01, a.Quantile(1), 0, "past the last bound: the last bound")
	require.True(t, math.IsNaN(loadsim.Histogram{}.Quantile(.5)))

	view := nodeView("load-0", before, after)
	require.Contains(t, view, "feed handed on 100 events")
	require.Contains(t, view, "p50 1.0 ms, p99 91.0 ms")
	require.Contains(t, view, "accept 201× p50 0.5 ms p99 1.0 ms")
}

// The pool's waits over the run: what was added since the first read.
func TestPoolViewOverTheRun(t *testing.T) {
	before := map[string]float64{`lianxin_redis_pool_connections{state="total"}`: 20,
		"lianxin_redis_pool_waits_total": 100, "lianxin_redis_pool_wait_seconds_total": 5}
	after := map[string]float64{`lianxin_redis_pool_connections{state="total"}`: 20,
		"lianxin_redis_pool_waits_total": 600, "lianxin_redis_pool_wait_seconds_total": 6, "lianxin_redis_pool_timeouts_total": 2}
	require.Equal(t, "node load-0's Redis pool (20 connections): 500 commands waited for one, 2.0 ms on average; 2 gave up\n",
		poolView("load-0", before, after))
	require.Empty(t, poolView("load-0", nil, map[string]float64{}), "a node without the pool's metrics")
}
