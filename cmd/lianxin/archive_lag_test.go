package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/archive"
	"github.com/lianxin/lianxin/archive/pgtest"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// metric reads one gauge from the node's /metrics (-1 if absent).
func metric(t *testing.T, n *testNode, name string) float64 {
	t.Helper()
	resp, err := http.Get(n.metrics + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return v
}

// TestNodeStartsWithoutPostgres: the node starts while its PostgreSQL is
// down; letters are taken; /metrics shows the archive's lag growing, a
// supervisor's desk gets the archive_lag alert (database.lag_alert 2s);
// once PostgreSQL is up the letters are archived and the lag is 0.
func TestNodeStartsWithoutPostgres(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	pg := pgtest.Start(t)
	pg.Pause(t)
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) {
		c.Database.URL = pg.URL
		c.Database.LagAlert = 2 * time.Second
	})
	sup := desk(t, n.base, "1005")
	var tns []string
	for _, subject := range []string{"路灯不亮", "噪音扰民", "停水"} {
		tns = append(tns, letter(t, n.base, "cd-city-0002", subject))
	}
	m := next(t, sup, "alert")
	var al struct{ Kind, Text string }
	require.NoError(t, json.Unmarshal(m.Raw, &al))
	t.Logf("alert: %+v", al)
	require.Equal(t, "archive_lag", al.Kind)
	require.True(t, strings.HasPrefix(al.Text, "归档滞后："), al.Text)
	entries, age := metric(t, n, "lianxin_archive_lag_entries"), metric(t, n, "lianxin_archive_lag_seconds")
	t.Logf("PostgreSQL down: lianxin_archive_lag_entries %v, lianxin_archive_lag_seconds %v", entries, age)
	require.GreaterOrEqual(t, entries, 3.0)
	require.GreaterOrEqual(t, age, 2.0)

	pg.Resume(t)
	require.Eventually(t, func() bool { return metric(t, n, "lianxin_archive_lag_entries") == 0 },
		2*time.Minute, 200*time.Millisecond, "the archive catches up")
	require.Equal(t, 0.0, metric(t, n, "lianxin_archive_lag_seconds"))
	// The letters' events are in the archive (they are still open: only
	// closed contacts are archived as contacts).
	st, err := archive.Open(t.Context(), pg.URL, nil)
	require.NoError(t, err)
	defer st.Close()
	var k int
	require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(DISTINCT contact) FROM events
		WHERE type = 'queued' AND contact = ANY($1)`, tns).Scan(&k))
	require.Equal(t, len(tns), k, "every letter's queued event archived")
}
