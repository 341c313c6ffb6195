package clusters_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/clusters"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// TestServiceOneNodeComputes: two nodes run the service on one real Redis;
// one holds the lease. A burst of 停水 letters in 武侯区 raises exactly one
// `cluster` alert in the event stream, and the groups are published for
// every node. When the computing node stops, the other takes over, rebuilds
// the groups from the stream, and does not raise the alert again.
func TestServiceOneNodeComputes(t *testing.T) {
	srv := queuetest.RedisServer(t)
	rdb := srv.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defs := []queue.Def{{Name: "general"}}
	start := func(node string) (*queue.Queue, context.CancelFunc, *sync.WaitGroup) {
		q, err := queue.New(rdb, queue.Options{NodeID: node, Queues: defs, Logger: zaptest.NewLogger(t)})
		require.NoError(t, err)
		s := clusters.NewService(clusters.ServiceParams{Queue: q, Redis: rdb, Prefix: "{lianxin}:", Node: node,
			Options: clusters.Options{MinCount: 5}, LeaseTTL: time.Second, Publish: 100 * time.Millisecond,
			Logger: zaptest.NewLogger(t).Named(node)})
		sctx, scancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.Run(sctx) }()
		return q, scancel, &wg
	}
	qa, stopA, wgA := start("node-a")
	_, stopB, wgB := start("node-b")
	defer func() { stopA(); stopB(); wgA.Wait(); wgB.Wait() }()

	var mu sync.Mutex
	var alerts []queue.Event
	pos, err := qa.EventsPosition(ctx)
	require.NoError(t, err)
	go func() {
		_ = qa.SubscribeFrom(ctx, pos, func(e queue.Event) {
			if e.Type == queue.EventAlert && e.Reason == clusters.AlertKind {
				mu.Lock()
				alerts = append(alerts, e)
				mu.Unlock()
			}
		})
	}()
	countAlerts := func() int { mu.Lock(); defer mu.Unlock(); return len(alerts) }

	texts := []string{"小区门口的路灯坏了一个月了", "公积金提取需要什么材料", "楼上邻居每天半夜拖动家具",
		"武侯区玉林北路停水了，一滴水都没有", "武侯区玉林小区突然停水，什么时候来水", "玉林街道停水，武侯区自来水公司电话打不通",
		"网购的衣服质量很差，商家拒绝退货", "武侯区玉林南路停水一上午了", "武侯区玉林西路停水五个多小时",
		"武侯区玉林路停水，整条街都没水", "武侯区玉林东路停水影响营业", "武侯区玉林中路停水，热水器不能用"}
	for i, text := range texts {
		_, err := qa.Enqueue(ctx, queue.Intake{Channel: queue.ChannelWeb, Line: "cd-city-0002", Queue: "general",
			Text: text, Citizen: queue.Citizen{Phone: fmt.Sprintf("+86138001380%02d", i)}}, "")
		require.NoError(t, err)
	}

	var snap clusters.Snapshot
	require.Eventually(t, func() bool {
		snap, err = clusters.Load(ctx, rdb, "{lianxin}:")
		return err == nil && len(snap.Clusters) > 0 && snap.Clusters[0].Count == 8 && countAlerts() == 1
	}, 30*time.Second, 50*time.Millisecond, "the group and its alert: %+v", &snap)
	require.Len(t, snap.Clusters, 1, "one group of more than one contact")
	g := snap.Clusters[0]
	t.Logf("group %q: %d contacts, computed on %s; alert %q", g.Label, g.Count, snap.Node, alerts[0].Text)
	require.Contains(t, g.Label, "停水")
	require.Equal(t, "武侯区", g.District)
	require.True(t, g.Alerted)
	require.NotEmpty(t, g.Samples)
	mu.Lock()
	a := alerts[0]
	mu.Unlock()
	require.True(t, strings.HasPrefix(a.Text, "2 小时内 5 件 "), a.Text)
	require.Contains(t, a.Text, "武侯区")
	require.NotEmpty(t, a.TrackingNo, "the alert names the group's newest contact")

	// The computing node stops: the other takes over and rebuilds.
	first := snap.Node
	if first == "node-a" {
		stopA()
		wgA.Wait()
	} else {
		stopB()
		wgB.Wait()
	}
	require.Eventually(t, func() bool {
		snap, err = clusters.Load(ctx, rdb, "{lianxin}:")
		return err == nil && snap.Node != first && len(snap.Clusters) > 0 && snap.Clusters[0].Count == 8
	}, 30*time.Second, 50*time.Millisecond, "the other node takes over")
	require.True(t, snap.Clusters[0].Alerted, "rebuilt from the stream, burst included")
	require.Equal(t, 1, countAlerts(), "the alert is not raised again by the new node")
}
