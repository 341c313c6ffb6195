package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestCommonProblemAlert: two nodes; ten letters about 停水 on one street,
// sent to the 武侯区 district mailbox through node A (their texts do not
// name the district: the mailbox does), raise one `cluster` alert on a
// supervisor's desk on node B, and the group is served by /api/clusters to
// supervisors only.
func TestCommonProblemAlert(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	a := startNode(t, s.URL, "node-a")
	b := startNode(t, s.URL, "node-b")
	sup := loginToken(t, b.base, "1005")
	d := dialDesk(t, b.base, sup)

	streets := []string{"玉林北路停水了，一滴水都没有", "玉林北路突然停水，什么时候来水", "玉林北路停水，自来水公司电话打不通",
		"玉林北路停水一上午了", "玉林北路停水五个多小时", "玉林北路停水，整条街都没水", "玉林北路停水影响营业",
		"玉林北路停水，热水器不能用", "玉林北路停水，老人没法做饭", "玉林北路停水到现在没有通知", "玉林北路又停水了"}
	for i, text := range streets {
		r := postJSON(t, a.base+"/channels/mailbox/cd-wh-0002/letters", map[string]string{
			"phone": fmt.Sprintf("138001380%02d", i), "text": text})
		require.Equal(t, 202, r.Status, "%v", r.Body)
	}
	m := next(t, d, "alert")
	var al struct{ Kind, Text, Contact string }
	require.NoError(t, json.Unmarshal(m.Raw, &al))
	t.Logf("alert on node B's supervisor desk: %+v", al)
	require.Equal(t, "cluster", al.Kind)
	require.True(t, strings.HasPrefix(al.Text, "2 小时内 10 件 武侯区"), al.Text)
	require.Contains(t, al.Text, "停水")
	require.NotEmpty(t, al.Contact)

	get := func(tok string) (int, []byte) {
		req, err := http.NewRequest(http.MethodGet, b.base+"/api/clusters", nil)
		require.NoError(t, err)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, body
	}
	st, _ := get("")
	require.Equal(t, 401, st)
	st, _ = get(loginToken(t, b.base, "1001"))
	require.Equal(t, 403, st, "agents do not see it")
	var snap struct {
		Node     string
		Clusters []struct {
			Label, District string
			Count           int
			Alerted         bool
			Samples         []struct{ Text string }
		}
	}
	require.Eventually(t, func() bool {
		st, body := get(sup)
		require.Equal(t, 200, st, "%s", body)
		require.NoError(t, json.Unmarshal(body, &snap))
		return len(snap.Clusters) > 0 && snap.Clusters[0].Count == len(streets)
	}, 60*time.Second, 200*time.Millisecond, "the group is published")
	g := snap.Clusters[0]
	t.Logf("/api/clusters: %q in %s, %d contacts, computed on %s", g.Label, g.District, g.Count, snap.Node)
	require.Equal(t, "武侯区", g.District)
	require.True(t, g.Alerted)
	require.NotEmpty(t, g.Samples)
	require.Contains(t, g.Samples[0].Text, "玉林北路")
}
