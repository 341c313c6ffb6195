package main

import (
	"math"
	"runtime/metrics"
	"testing"

	"github.com/stretchr/testify/require"
)

// The scheduler's latencies fold into the served bounds without a wait
// reported shorter than it was: a runtime bucket counts at the first bound
// at or above its upper end; those past the last bound only in the count.
func TestSchedBucketsFoldTheRuntimeHistogram(t *testing.T) {
	h := &metrics.Float64Histogram{
		Buckets: []float64{math.Inf(-1), 0, 1e-5, 3e-5, 1e-3, 2e-3, 2, math.Inf(1)},
		Counts:  []uint64{0, 4, 2, 3, 1, 5, 7},
	}
	count, sum, b := schedBuckets(h, []float64{1e-5, 1e-4, 1e-3, 1})
	require.EqualValues(t, 22, count)
	require.Equal(t, map[float64]uint64{1e-5: 4, 1e-4: 6, 1e-3: 9, 1: 10}, b,
		"(1 ms, 2 ms] counts at 1 s, the first bound not below 2 ms; (2 ms, 2 s] and beyond are past the last bound")
	want := 4*5e-6 + 2*2e-5 + 3*5.15e-4 + 1*1.5e-3 + 5*1.001 + 7*2.0
	require.InDelta(t, want, sum, 1e-9)
}
