package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/lianxin/lianxin/archive"
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
	out.Reset()
	require.Equal(t, 0, run([]string{"report", "--day", "2026-11-30"}, nil, &out, &errs), errs.String())
	require.Contains(t, out.String(), "本期未发现3件以上同类诉求")

	// Four letters about one thing: a common problem, its sample masked.
	st, err := archive.Open(t.Context(), pg.URL, nil)
	require.NoError(t, err)
	defer st.Close()
	_, err = st.Pool().Exec(t.Context(), `INSERT INTO contacts (tracking_no, channel, line, district, received_at,
		queued_at, closed_at, contact, fields, messages)
		SELECT 'cli' || i, 'web', 'cd-wh-0002', '武侯区', timestamptz '2026-11-30 10:00+08' + i * interval '1 minute',
			timestamptz '2026-11-30 10:00+08', timestamptz '2026-11-30 11:00+08',
			jsonb_build_object('text', '玉林北路停水一整天了，我的电话1380013800' || i), '{}', '[]'
		FROM generate_series(1, 4) AS i`)
	require.NoError(t, err)
	out.Reset()
	require.Equal(t, 0, run([]string{"report", "--day", "2026-11-30"}, nil, &out, &errs), errs.String())
	t.Logf("lianxin report --day 2026-11-30:\n%s", out.String())
	require.Regexp(t, `共性问题\n 1\. .*停水.*  4件  武侯区  cd-wh-0002\n    “玉林北路停水一整天了，我的电话\*{11}”`, out.String())
	require.NotContains(t, out.String(), "13800138001")
}

// Without database.url the reports answer 503 and say what to set.
func TestReportsWithoutArchive(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a")
	r := do(t, http.MethodGet, n.base+"/api/reports/day/2026-11-30", "", nil, "Authorization", "Bearer "+loginToken(t, n.base, "1005"))
	require.Equal(t, http.StatusServiceUnavailable, r.Status)
	require.Equal(t, "no_archive", r.Body["error"])
	require.Contains(t, r.Body["message"], "LIANXIN_DATABASE_URL")
}
