package main

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/lianxin/lianxin/clusters"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestClusterAlertInBrowser: a supervisor's desk shows a common-problem
// alert as such (共性问题预警, not 紧急情况), its text as text.
func TestClusterAlertInBrowser(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a")
	b := startBrowser(t)
	defer b.close(t)
	b.do(t, "a laptop's screen", chromedp.EmulateViewport(1366, 768))
	b.login(t, n.base, "1005")
	b.do(t, "connected", chromedp.WaitVisible(chromedp.CSS(`#conn[data-conn="open"]`)))

	text := "2 小时内 37 件 武侯区 玉林北路停水<b>"
	require.NoError(t, n.n.q.Alert(context.Background(), "261130123456780", clusters.AlertKind, text))
	b.do(t, "the alert shows", chromedp.WaitVisible(chromedp.CSS(`#toast .toast-item.error`)))
	got := browserRun(t, b, "toast", chromedp.Text(chromedp.ID("toast")))
	require.Contains(t, got, "共性问题预警："+text, "the text as the citizen-made label, markup shown as text")
	require.NotContains(t, got, "紧急情况")
	require.Zero(t, browserRun(t, b, "markup in the toast", chromedp.Evaluate[int](`document.querySelectorAll('#toast b').length`)))
	b.noPageErrors(t)
	b.screenshot(t, "cluster-alert-1366x768")
}
