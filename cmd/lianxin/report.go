package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/lianxin/lianxin/archive"
	"github.com/lianxin/lianxin/configs"
)

// report prints a day's, week's or month's report from the archive
// (database.url, or LIANXIN_DATABASE_URL).
func report(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	day := fs.String("day", "", "a day, e.g. 2026-11-30 (China time)")
	week := fs.String("week", "", "an ISO week, e.g. 2026-W49, or any day in it")
	month := fs.String("month", "", "a month, e.g. 2026-11")
	format := fs.String("format", "text", "text, csv, json or html")
	path := fs.String("config", configs.PathFromEnv(getenv), "configuration file (env LIANXIN_CONFIG)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var kind, name string
	n := 0
	for k, v := range map[string]string{archive.Day: *day, archive.Week: *week, archive.Month: *month} {
		if v != "" {
			kind, name = k, v
			n++
		}
	}
	if n != 1 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: lianxin report (--day 2026-11-30 | --week 2026-W49 | --month 2026-11) [--format text|csv|json|html]")
		return 2
	}
	p, err := archive.ParsePeriod(kind, name)
	if err != nil {
		fmt.Fprintln(stderr, "lianxin report:", err)
		return 2
	}
	if *format != "text" && *format != "csv" && *format != "json" && *format != "html" {
		fmt.Fprintf(stderr, "lianxin report: --format %q: want text, csv, json or html\n", *format)
		return 2
	}
	cfg, err := configs.Load(*path, getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if cfg.Database.URL == "" {
		fmt.Fprintln(stderr, "lianxin report: reports are computed from the archive: set database.url (LIANXIN_DATABASE_URL)")
		return 1
	}
	s, err := archive.Open(ctx, cfg.Database.URL, nil)
	if err != nil {
		fmt.Fprintln(stderr, "lianxin report:", err)
		return 1
	}
	defer s.Close()
	r, err := s.Compute(ctx, p, cfg.Reports.ResponseTargets)
	if err != nil {
		fmt.Fprintln(stderr, "lianxin report:", err)
		return 1
	}
	switch *format {
	case "csv":
		err = r.WriteCSV(stdout)
	case "json":
		err = r.WriteJSON(stdout)
	case "html":
		err = r.WriteHTML(stdout)
	default:
		err = writeText(stdout, r)
	}
	if err != nil {
		fmt.Fprintln(stderr, "lianxin report:", err)
		return 1
	}
	return 0
}

// writeText prints the headline figures and the breakdown by channel.
func writeText(w io.Writer, r *archive.Report) error {
	t := r.Total
	pct, secs := archive.Percent, archive.Seconds
	fmt.Fprintf(w, "12345热线 %s %s\n\n", r.Period.Label, r.Period.Name)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "受理量\t%d\n接诉响应率\t%s\n问题解决率\t%s\n群众满意率\t%s\t(%d 件评价)\n平均处理时长\t%s\n", t.Received,
		pct(t.ResponseRate), pct(t.ResolutionRate), pct(t.SatisfactionRate), t.Rated, secs(t.AHT))
	fmt.Fprintf(tw, "来电排队量\t%d\n20秒服务水平\t%s\n平均应答速度\t%s\n放弃率\t%s\t(5秒内挂机 %d 不计)\n坐席占用率\t%s\n\n",
		t.Calls, pct(t.ServiceLevel), secs(t.ASA), pct(t.AbandonRate), t.ShortAbandons, pct(t.Occupancy))
	fmt.Fprintln(tw, "渠道\t受理\t接通\t响应率\t解决率\t满意率")
	for _, c := range r.Channels {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", c.Label, c.Received, c.Answered, pct(c.ResponseRate),
			pct(c.ResolutionRate), pct(c.SatisfactionRate))
	}
	if len(r.Busiest) > 0 {
		fmt.Fprint(tw, "\n最忙时段")
		for _, h := range r.Busiest {
			fmt.Fprintf(tw, "\t%s (%d)", h.Label, h.N)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.ProblemsSampleEvery > 1 {
		fmt.Fprintf(w, "\n共性问题（每%d件抽1件归类，件数为估计值）\n", r.ProblemsSampleEvery)
	} else {
		fmt.Fprintln(w, "\n共性问题")
	}
	if len(r.CommonProblems) == 0 {
		fmt.Fprintln(w, "  本期未发现3件以上同类诉求")
	}
	for k, p := range r.CommonProblems {
		district := p.District
		if district == "" {
			district = "—"
		}
		lines := make([]string, 0, 3)
		for _, l := range p.Lines[:min(3, len(p.Lines))] {
			lines = append(lines, l.Line)
		}
		fmt.Fprintf(w, "%2d. %s  %d件  %s  %s\n", k+1, p.Label, p.Count, district, strings.Join(lines, ","))
		for _, s := range p.Samples[:min(2, len(p.Samples))] {
			fmt.Fprintf(w, "    “%s”\n", s.Text)
		}
	}
	return nil
}
