package archive

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

//go:embed web/report.css
var reportCSS string

//go:embed web/report.html
var reportHTML string

// ReportCSP is the Content-Security-Policy of the HTML report: nothing
// external, no script, only its own inline style (by hash).
var ReportCSP = func() string {
	sum := sha256.Sum256([]byte(reportCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
}()

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":  pct,
	"secs": secs,
	"css":  func() template.CSS { return template.CSS(reportCSS) },
	"kind": func(k string) string {
		return map[string]string{Day: "日通报", Week: "周研判", Month: "月分析"}[k]
	},
	"when": func(r *Report) string { return r.GeneratedAt.In(ChinaTime).Format("2006-01-02 15:04") },
	"target": func(s float64) string {
		switch {
		case s >= 3600 && math.Mod(s, 3600) == 0:
			return strconv.Itoa(int(s/3600)) + "小时"
		case s >= 60 && math.Mod(s, 60) == 0:
			return strconv.Itoa(int(s/60)) + "分钟"
		}
		return strconv.FormatFloat(s, 'f', -1, 64) + "秒"
	},
	"chlabel": ChannelLabel,
	"span": func(a, b time.Time) string {
		a, b = a.In(ChinaTime), b.In(ChinaTime)
		if a.Format("2006-01-02") == b.Format("2006-01-02") {
			return a.Format("1月2日 15:04") + "–" + b.Format("15:04")
		}
		return a.Format("1月2日 15:04") + "–" + b.Format("1月2日 15:04")
	},
	"problemsAbove": func() int { return ProblemsSampleAbove },
	"top": func(n int, rs []Row) []Row {
		if len(rs) > n {
			return rs[:n]
		}
		return rs
	},
	"bars":  columnChart,
	"hbars": barChart,
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}).Parse(reportHTML))

// pct writes a rate as a percentage with one decimal, or "—".
func pct(v *float64) string {
	if v == nil {
		return "—"
	}
	return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
}

// secs writes a duration in seconds as 12秒 or 3分05秒, or "—".
func secs(v *float64) string {
	if v == nil {
		return "—"
	}
	s := int(math.Round(*v))
	if s < 60 {
		return strconv.Itoa(s) + "秒"
	}
	return fmt.Sprintf("%d分%02d秒", s/60, s%60)
}

// Chart geometry, computed here and drawn by the template as SVG.
type chart struct {
	Width, Height int
	Bars          []bar
	Axis          []tick
	Title         string
}

type bar struct {
	X, Y, W, H     float64
	Label, Value   string
	LX, LY, VX, VY float64
	Hot            bool
}

type tick struct {
	Y     float64
	Label string
}

// columnChart draws counts as vertical columns (hours of the day, days);
// the three largest are marked hot when hot is true.
func columnChart(title string, cs []Count, hot bool) chart {
	const w, h, left, bottom, top = 1180.0, 210.0, 44.0, 24.0, 18.0
	c := chart{Width: int(w), Height: int(h), Title: title}
	maxN := 0
	for _, x := range cs {
		maxN = max(maxN, x.N)
	}
	scale, ticks := axis(maxN)
	top3 := map[int]bool{}
	if hot {
		idx := make([]int, len(cs))
		for i := range idx {
			idx[i] = i
		}
		for k := 0; k < 3 && k < len(idx); k++ {
			best := -1
			for _, i := range idx {
				if !top3[i] && cs[i].N > 0 && (best < 0 || cs[i].N > cs[best].N) {
					best = i
				}
			}
			if best >= 0 {
				top3[best] = true
			}
		}
	}
	if len(cs) == 0 {
		return c
	}
	slot := (w - left) / float64(len(cs))
	plot := h - bottom - top
	for i, x := range cs {
		bh := plot * float64(x.N) / float64(scale)
		b := bar{X: left + float64(i)*slot + slot*0.15, W: slot * 0.7, H: bh, Y: top + plot - bh,
			Label: x.Label, Value: strconv.Itoa(x.N), Hot: top3[i]}
		b.LX, b.LY = b.X+b.W/2, h-8
		b.VX, b.VY = b.X+b.W/2, b.Y-4
		c.Bars = append(c.Bars, b)
	}
	for k := 0; k <= ticks; k++ {
		v := scale * k / ticks
		c.Axis = append(c.Axis, tick{Y: top + plot - plot*float64(v)/float64(scale), Label: strconv.Itoa(v)})
	}
	return c
}

// barChart draws counts as horizontal bars with their labels.
func barChart(title string, cs []Count) chart {
	const w, row, left = 560.0, 26.0, 110.0
	c := chart{Width: int(w), Height: int(row*float64(max(len(cs), 1)) + 8), Title: title}
	maxN := 1
	for _, x := range cs {
		maxN = max(maxN, x.N)
	}
	for i, x := range cs {
		bw := (w - left - 70) * float64(x.N) / float64(maxN)
		b := bar{X: left, Y: 4 + float64(i)*row, W: bw, H: row - 8, Label: x.Label, Value: strconv.Itoa(x.N)}
		b.LX, b.LY = left-8, b.Y+b.H-4
		b.VX, b.VY = left+bw+6, b.Y+b.H-4
		c.Bars = append(c.Bars, b)
	}
	return c
}

// axis picks a chart's scale: the smallest step of 1, 2, 2.5 or 5 × 10ⁿ
// that covers n in at most five ticks; it returns the top and the ticks.
func axis(n int) (top, ticks int) {
	if n <= 0 {
		return 4, 4
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{10, 20, 25, 50} {
			step := m * p
			if step%10 != 0 {
				continue
			}
			step /= 10
			if k := (n + step - 1) / step; k <= 5 {
				return k * step, k
			}
		}
	}
}

// WriteHTML writes the report as a printable HTML page (Chinese, charts in
// inline SVG, no external assets; serve it with ReportCSP).
func (r *Report) WriteHTML(w io.Writer) error { return reportTmpl.Execute(w, r) }

// WriteHTMLPart writes only the report's <main> element, for the reports
// page to show (it has the style already).
func (r *Report) WriteHTMLPart(w io.Writer) error { return reportTmpl.ExecuteTemplate(w, "main", r) }

// WriteJSON writes the report as JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

// WriteCSV writes the report as CSV: one line per breakdown row (the total
// first), the figures in columns; then request types, outcomes, hours and
// days (period, kind, key, label, n); then the common problems (period,
// common_problem, id, label, count, district, lines as line:n, the masked
// samples joined by " | ").
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	f := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', 4, 64)
	}
	i := strconv.Itoa
	_ = cw.Write([]string{"period", "breakdown", "key", "label", "received", "answered", "answered_in_target",
		"resolved", "dispatched", "rated", "satisfied", "response_rate", "resolution_rate", "satisfaction_rate",
		"average_handle_seconds", "calls_queued", "calls_answered", "calls_abandoned", "calls_abandoned_under_5s",
		"calls_removed_within_20s", "service_level_20s", "average_speed_of_answer_seconds", "abandon_rate",
		"call_average_handle_seconds", "occupancy"})
	row := func(kind string, x Row) {
		_ = cw.Write([]string{r.Period.Name, kind, x.Key, x.Label, i(x.Received), i(x.Answered), i(x.InTarget),
			i(x.Resolved), i(x.Dispatched), i(x.Rated), i(x.Satisfied), f(x.ResponseRate), f(x.ResolutionRate),
			f(x.SatisfactionRate), f(x.AHT), i(x.Calls), i(x.CallsAnswered), i(x.CallsAbandoned), i(x.ShortAbandons),
			i(x.Within20), f(x.ServiceLevel), f(x.ASA), f(x.AbandonRate), f(x.CallAHT), f(x.Occupancy)})
	}
	row("total", Row{Key: "", Label: "合计", Figures: r.Total})
	for _, b := range []struct {
		kind string
		rows []Row
	}{{"channel", r.Channels}, {"line", r.Lines}, {"mailbox_level", r.Levels}, {"district", r.Districts},
		{"queue", r.Queues}, {"agent", r.Agents}} {
		for _, x := range b.rows {
			row(b.kind, x)
		}
	}
	for _, b := range []struct {
		kind string
		cs   []Count
	}{{"request_type", r.RequestTypes}, {"outcome", r.Outcomes}, {"hour", r.Hours}, {"day", r.Days}} {
		for _, c := range b.cs {
			_ = cw.Write([]string{r.Period.Name, b.kind, c.Key, c.Label, i(c.N)})
		}
	}
	// The common problems: count, district, lines, and the masked samples.
	for _, p := range r.CommonProblems {
		lines := make([]string, len(p.Lines))
		for k, l := range p.Lines {
			lines[k] = l.Line + ":" + i(l.N)
		}
		samples := make([]string, len(p.Samples))
		for k, s := range p.Samples {
			samples[k] = s.Text
		}
		_ = cw.Write([]string{r.Period.Name, "common_problem", p.ID, p.Label, i(p.Count), p.District,
			strings.Join(lines, " "), strings.Join(samples, " | ")})
	}
	cw.Flush()
	return cw.Error()
}

// Percent writes a rate as the report does: 87.5%, or — without a denominator.
func Percent(v *float64) string { return pct(v) }

// Seconds writes a duration as the report does: 42秒, 3分05秒, or —.
func Seconds(v *float64) string { return secs(v) }
