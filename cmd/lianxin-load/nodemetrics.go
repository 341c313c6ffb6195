package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// histogram is one series of a Prometheus histogram: cumulative counts by
// upper bound, +Inf last.
type histogram struct {
	upper, cum []float64
}

// histograms are a node's histogram series by metric name and then by the
// value of their one label ("" for none).
type histograms map[string]map[string]histogram

// scrapeHistograms reads the histograms of the /metrics page at url.
func scrapeHistograms(ctx context.Context, url string) (histograms, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	out := histograms{}
	for name, mf := range mfs {
		if mf.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		out[name] = map[string]histogram{}
		for _, m := range mf.GetMetric() {
			label := ""
			if ls := m.GetLabel(); len(ls) > 0 {
				label = ls[0].GetValue()
			}
			var h histogram
			for _, b := range m.GetHistogram().GetBucket() {
				h.upper = append(h.upper, b.GetUpperBound())
				h.cum = append(h.cum, float64(b.GetCumulativeCount()))
			}
			h.upper = append(h.upper, math.Inf(1))
			h.cum = append(h.cum, float64(m.GetHistogram().GetSampleCount()))
			out[name][label] = h
		}
	}
	return out, nil
}

// since is h less what it held at before (the same buckets), or h when
// before had no such series.
func (h histogram) since(before histogram) histogram {
	if len(before.cum) != len(h.cum) {
		return h
	}
	d := histogram{upper: h.upper, cum: make([]float64, len(h.cum))}
	for i := range h.cum {
		d.cum[i] = h.cum[i] - before.cum[i]
	}
	return d
}

func (h histogram) count() float64 {
	if len(h.cum) == 0 {
		return 0
	}
	return h.cum[len(h.cum)-1]
}

// quantile is the q-quantile as Prometheus's histogram_quantile estimates
// it: linear within the bucket that holds it; the highest finite bound
// when it falls in +Inf.
func (h histogram) quantile(q float64) float64 {
	n := h.count()
	if n == 0 {
		return math.NaN()
	}
	rank := q * n
	lower, below := 0.0, 0.0
	for i, c := range h.cum {
		if c >= rank {
			if math.IsInf(h.upper[i], 1) {
				return lower
			}
			if c == below {
				return h.upper[i]
			}
			return lower + (h.upper[i]-lower)*(rank-below)/(c-below)
		}
		lower, below = h.upper[i], c
	}
	return lower
}

// nodeView says what node's histograms saw between before and after: how
// late its feed handed events on, and how long the scripts it ran took, as
// the node timed them (its /metrics), next to the tool's own offer latency.
func nodeView(node string, before, after histograms) string {
	var b strings.Builder
	ms := func(s float64) string { return fmt.Sprintf("%.1f ms", s*1000) }
	feed := after["lianxin_feed_delay_seconds"][""].since(before["lianxin_feed_delay_seconds"][""])
	if feed.count() > 0 {
		fmt.Fprintf(&b, "node %s's feed handed on %.0f events: delay after the event entered the stream p50 %s, p99 %s\n",
			node, feed.count(), ms(feed.quantile(.5)), ms(feed.quantile(.99)))
	}
	sched := after["go_sched_latencies_seconds"][""].since(before["go_sched_latencies_seconds"][""])
	if sched.count() > 0 {
		fmt.Fprintf(&b, "node %s's goroutines waited to run (Go scheduler) p50 %s, p99 %s\n", node,
			ms(sched.quantile(.5)), ms(sched.quantile(.99)))
	}
	scripts := after["lianxin_redis_script_seconds"]
	names := make([]string, 0, len(scripts))
	for name := range scripts {
		names = append(names, name)
	}
	sort.Strings(names)
	var parts []string
	for _, name := range names {
		h := scripts[name].since(before["lianxin_redis_script_seconds"][name])
		if h.count() < 100 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.0f× p50 %s p99 %s", name, h.count(), ms(h.quantile(.5)),
			ms(h.quantile(.99))))
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, "node %s's scripts (its round trips): %s\n", node, strings.Join(parts, "; "))
	}
	return b.String()
}
