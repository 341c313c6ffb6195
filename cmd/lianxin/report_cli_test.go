package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/lianxin/lianxin/archive/pgtest"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// lianxin report: clear errors without an archive or with a bad period; the
// day's figures in text and CSV from the archive.
func TestReportCommand(t *testing.T) {
	t.Setenv("LIANXIN_CONFIG", "")
	t.Setenv("LIANXIN_DATABASE_URL", "")
	var out, errs bytes.Buffer
	require.Equal(t, 1, run([]string{"report", "--day", "2026-11-30"}, nil, &out, &errs))
	require.Contains(t, errs.String(), "LIANXIN_DATABASE_URL")
	for _, args := range [][]string{{"--day", "2026-11-31"}, {"--day", "2026-11-30", "--week", "2026-W49"}, {},
		{"--month", "2026-11", "--format", "pdf"}, {"--week", "W49"}} {
		errs.Reset()
		require.Equal(t, 2, run(append([]string{"report"}, args...), nil, &out, &errs), "%v", args)
		require.NotEmpty(t, errs.String())
	}

	pg := pgtest.Start(t)
	t.Setenv("LIANXIN_DATABASE_URL", pg.URL)
	out.Reset()
	errs.Reset()
	require.Equal(t, 0, run([]string{"report", "--day", "2026-11-30"}, nil, &out, &errs), errs.String())
	require.Contains(t, out.String(), "12345热线 2026年11月30日 2026-11-30")
	require.Regexp(t, `受理量\s+0\n`, out.String())
	out.Reset()
	require.Equal(t, 0, run([]string{"report", "--week", "2026-11-30", "--format", "csv"}, nil, &out, &errs), errs.String())
	require.True(t, strings.HasPrefix(out.String(), "period,breakdown,key,label,received,"), out.String())
	require.Contains(t, out.String(), "2026-W49,total,,合计,0,")
}

// Without database.url the reports answer 503 and say what to set.
func TestReportsWithoutArchive(t *testing.T) {
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a")
	r := do(t, http.MethodGet, n.base+"/api/reports/day/2026-11-30", "", nil, "Authorization", "Bearer "+loginToken(t, n.base, "1005"))
	require.Equal(t, http.StatusServiceUnavailable, r.Status)
	require.Equal(t, "no_archive", r.Body["error"])
	require.Contains(t, r.Body["message"], "LIANXIN_DATABASE_URL")
}
