package loadsim

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// page GETs url, a node's /metrics page.
func page(ctx context.Context, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return resp.Body, nil
}

// Histogram is one series of a Prometheus histogram: cumulative counts by
// upper bound, +Inf last.
type Histogram struct {
	Upper, Cum []float64
}

// Histograms are a node's histogram series by metric name and then by the
// value of their one label ("" for none).
type Histograms map[string]map[string]Histogram

// ScrapeHistograms reads the histograms of the /metrics page at url.
func ScrapeHistograms(ctx context.Context, url string) (Histograms, error) {
	body, err := page(ctx, url)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	out := Histograms{}
	for name, mf := range mfs {
		if mf.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		out[name] = map[string]Histogram{}
		for _, m := range mf.GetMetric() {
			label := ""
			if ls := m.GetLabel(); len(ls) > 0 {
				label = ls[0].GetValue()
			}
			var h Histogram
			for _, b := range m.GetHistogram().GetBucket() {
				h.Upper = append(h.Upper, b.GetUpperBound())
				h.Cum = append(h.Cum, float64(b.GetCumulativeCount()))
			}
			h.Upper = append(h.Upper, math.Inf(1))
			h.Cum = append(h.Cum, float64(m.GetHistogram().GetSampleCount()))
			out[name][label] = h
		}
	}
	return out, nil
}

// Since is h less what it held at before (the same buckets), or h when
// before had no such series.
func (h Histogram) Since(before Histogram) Histogram {
	if len(before.Cum) != len(h.Cum) {
		return h
	}
	d := Histogram{Upper: h.Upper, Cum: make([]float64, len(h.Cum))}
	for i := range h.Cum {
		d.Cum[i] = h.Cum[i] - before.Cum[i]
	}
	return d
}

// Count is how many were observed.
func (h Histogram) Count() float64 {
	if len(h.Cum) == 0 {
		return 0
	}
	return h.Cum[len(h.Cum)-1]
}

// Quantile is the q-quantile as Prometheus's histogram_quantile estimates
// it: linear within the bucket that holds it; the highest finite bound
// when it falls in +Inf.
func (h Histogram) Quantile(q float64) float64 {
	n := h.Count()
	if n == 0 {
		return math.NaN()
	}
	rank := q * n
	lower, below := 0.0, 0.0
	for i, c := range h.Cum {
		if c >= rank {
			if math.IsInf(h.Upper[i], 1) {
				return lower
			}
			if c == below {
				return h.Upper[i]
			}
			return lower + (h.Upper[i]-lower)*(rank-below)/(c-below)
		}
		lower, below = h.Upper[i], c
	}
	return lower
}
