package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lianxin/lianxin/agentdesk"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// TestHotTopicFromCommonProblem: letters about 停水 on one street form a
// common problem; a supervisor turns it into the hot-topic answer over HTTP
// (POST /api/clusters/{id}/hot-topic: its label makes the text, every line
// since letters came to a mailbox) and over the desk's websocket
// (hot_topic_publish with group and a text of their own, on node B). Others
// get 401 and 403, an unknown group 404 with an error naming it.
func TestHotTopicFromCommonProblem(t *testing.T) {
	t.Parallel()
	siptest.RequireTools(t, "espeak-ng", "sox")
	s := queuetest.RedisServer(t)
	a := startNode(t, s.URL, "node-a", noMenus)
	b := startNode(t, s.URL, "node-b", noMenus)
	for i, text := range []string{"玉林北路停水了，一滴水都没有", "玉林北路突然停水，什么时候来水", "玉林北路停水，自来水公司电话打不通",
		"玉林北路停水一上午了", "玉林北路停水五个多小时", "玉林北路停水，整条街都没水"} {
		r := postJSON(t, a.base+"/channels/mailbox/cd-wh-0002/letters", map[string]string{
			"phone": fmt.Sprintf("138001380%02d", i), "text": text})
		require.Equal(t, http.StatusAccepted, r.Status, "%v", r.Body)
	}
	sup := loginToken(t, a.base, "1005")
	var id, label string
	require.Eventually(t, func() bool {
		r := do(t, http.MethodGet, a.base+"/api/clusters", "", nil, "Authorization", "Bearer "+sup)
		require.Equal(t, http.StatusOK, r.Status)
		cs, _ := r.Body["clusters"].([]any)
		if len(cs) == 0 {
			return false
		}
		c := cs[0].(map[string]any)
		id, label = c["id"].(string), c["label"].(string)
		return true
	}, 90*time.Second, 250*time.Millisecond, "the group is published")
	t.Logf("group %s %q", id, label)
	require.Contains(t, label, "停水")

	url := a.base + "/api/clusters/" + id + "/hot-topic"
	r := do(t, http.MethodPost, url, "", nil)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	r = do(t, http.MethodPost, url, "", nil, "Authorization", "Bearer "+loginToken(t, a.base, "1001"))
	require.Equal(t, http.StatusForbidden, r.Status, "%v", r.Body)
	require.Equal(t, "forbidden", r.Body["error"])
	r = do(t, http.MethodPost, a.base+"/api/clusters/c99999/hot-topic", "", nil, "Authorization", "Bearer "+sup)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, "not_found", r.Body["error"])
	require.Contains(t, r.Body["message"], "没有这个共性问题：c99999")
	r = do(t, http.MethodPost, a.base+"/api/clusters/x1/hot-topic", "", nil, "Authorization", "Bearer "+sup)
	require.Equal(t, http.StatusNotFound, r.Status)
	r = postJSON(t, url, map[string]string{"line": "12a"}, "Authorization", "Bearer "+sup)
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Contains(t, r.Body["message"], "线路")

	d := desk(t, b.base, "1005")
	require.Empty(t, topicsOf(t, next(t, d, "hot_topics").Raw))
	r = do(t, http.MethodPost, url, "", nil, "Authorization", "Bearer "+sup)
	require.Equal(t, http.StatusCreated, r.Status, "%v", r.Body)
	require.Equal(t, "*", r.Body["line"], "letters to a mailbox: every line")
	require.Equal(t, agentdesk.GroupAnswer(label), r.Body["text"])
	require.Equal(t, "1005", r.Body["by"])
	topics := topicsOf(t, next(t, d, "hot_topics").Raw)
	require.Len(t, topics, 1, "node B's supervisor sees it")
	require.Contains(t, topics[0].Text, strings.Join(strings.Fields(label), ""))

	// Over the websocket, with the supervisor's own text, for 12345.
	send(t, d, "hot_topic_publish", map[string]any{"group": id, "line": "12345", "text": "玉林北路停水，预计今晚八点恢复供水。"})
	topics = topicsOf(t, next(t, d, "hot_topics").Raw)
	require.Len(t, topics, 2)
	require.Equal(t, "12345", topics[1].Line)
	require.Equal(t, "玉林北路停水，预计今晚八点恢复供水。", topics[1].Text)
	ref, err := d.Send("hot_topic_publish", map[string]any{"group": "c99999"})
	require.NoError(t, err)
	m := next(t, d, "error")
	require.Equal(t, ref, m.Ref)
	require.Equal(t, "not_found", m.Code)
	require.Contains(t, m.Message, "c99999")
	ref, err = d.Send("hot_topic_publish", map[string]any{"group": "c1; DROP"})
	require.NoError(t, err)
	m = next(t, d, "error")
	require.Equal(t, ref, m.Ref)
	require.Equal(t, "bad_message", m.Code)
	require.True(t, strings.HasPrefix(m.Message, "group:"), m.Message)
	ag := desk(t, b.base, "1001")
	ref, err = ag.Send("hot_topic_publish", map[string]any{"group": id})
	require.NoError(t, err)
	m = next(t, ag, "error")
	require.Equal(t, ref, m.Ref)
	require.Equal(t, "forbidden", m.Code)
}

// TestWallboardGroupHotTopicInBrowser: on the wallboard at 1366×768 the
// supervisor picks the common problem in 从共性问题生成 and publishes: the
// answer made of it reaches a supervisor's desk.
func TestWallboardGroupHotTopicInBrowser(t *testing.T) {
	t.Parallel()
	siptest.RequireTools(t, "espeak-ng", "sox")
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a", noMenus)
	for i, text := range []string{"建设北路二段有很重的燃气味", "建设北路二段燃气味很大，担心泄漏", "建设北路二段一直有燃气味",
		"建设北路二段燃气味越来越重", "建设北路二段闻到燃气味"} {
		r := postJSON(t, n.base+"/channels/mailbox/cd-wh-0002/letters", map[string]string{
			"phone": fmt.Sprintf("138001381%02d", i), "text": text})
		require.Equal(t, http.StatusAccepted, r.Status, "%v", r.Body)
	}
	sup := loginToken(t, n.base, "1005")
	require.Eventually(t, func() bool {
		r := do(t, http.MethodGet, n.base+"/api/clusters?min=3", "", nil, "Authorization", "Bearer "+sup)
		cs, _ := r.Body["clusters"].([]any)
		return len(cs) > 0
	}, 90*time.Second, 250*time.Millisecond, "the group is published")
	d := desk(t, n.base, "1005")
	require.Empty(t, topicsOf(t, next(t, d, "hot_topics").Raw))

	b := startBrowser(t)
	defer b.close(t)
	b.openWallboard(t, n.base)
	require.True(t, browserRun(t, b, "the group offered", chromedp.Poll[bool](
		`document.querySelector('#hot-group option[value^="c"]') !== null`)))
	id := browserRun(t, b, "the group's id", chromedp.Evaluate[string](`document.querySelector('#hot-group option[value^="c"]').value`))
	b.do(t, "choose it and publish",
		chromedp.SetValue(chromedp.ID("hot-group"), id),
		chromedp.Click(chromedp.CSS(`#hot-form button[type="submit"]`)),
	)
	topics := topicsOf(t, next(t, d, "hot_topics").Raw)
	require.Len(t, topics, 1)
	require.Contains(t, topics[0].Text, "燃气味")
	require.Equal(t, "1005", topics[0].By)
	for i := 0; !strings.HasPrefix(browserRun(t, b, "status", chromedp.Evaluate[string](`document.getElementById('hot-status').textContent`)), "已发布"); i++ {
		require.Less(t, i, 300, "the page says it is published")
		time.Sleep(100 * time.Millisecond)
	}
	b.screenshot(t, "wallboard-group-hot-topic")
	over := browserRun(t, b, "overflow", chromedp.Evaluate[bool](
		`document.documentElement.scrollWidth > innerWidth || document.documentElement.scrollHeight > innerHeight`))
	require.False(t, over, "the wallboard still fits 1366×768")
	b.noPageErrors(t)
}
