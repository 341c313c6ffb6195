package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lianxin/lianxin/internal/loadsim"
)

// nodeView says what node's histograms saw between before and after: how
// late its feed handed events on, how long its goroutines waited for a
// thread, and how long the scripts it ran took, as the node timed them (its
// /metrics), next to the tool's own offer latency.
func nodeView(node string, before, after loadsim.Histograms) string {
	var b strings.Builder
	ms := func(s float64) string { return fmt.Sprintf("%.1f ms", s*1000) }
	feed := after["lianxin_feed_delay_seconds"][""].Since(before["lianxin_feed_delay_seconds"][""])
	if feed.Count() > 0 {
		fmt.Fprintf(&b, "node %s's feed handed on %.0f events: delay after the event entered the stream p50 %s, p99 %s\n",
			node, feed.Count(), ms(feed.Quantile(.5)), ms(feed.Quantile(.99)))
	}
	sched := after["go_sched_latencies_seconds"][""].Since(before["go_sched_latencies_seconds"][""])
	if sched.Count() > 0 {
		fmt.Fprintf(&b, "node %s's goroutines waited to run (Go scheduler) p50 %s, p99 %s\n", node,
			ms(sched.Quantile(.5)), ms(sched.Quantile(.99)))
	}
	scripts := after["lianxin_redis_script_seconds"]
	names := make([]string, 0, len(scripts))
	for name := range scripts {
		names = append(names, name)
	}
	sort.Strings(names)
	var parts []string
	for _, name := range names {
		h := scripts[name].Since(before["lianxin_redis_script_seconds"][name])
		if h.Count() < 100 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.0f× p50 %s p99 %s", name, h.Count(), ms(h.Quantile(.5)),
			ms(h.Quantile(.99))))
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, "node %s's scripts (its round trips): %s\n", node, strings.Join(parts, "; "))
	}
	return b.String()
}

// poolView says how often node's commands waited for a connection of its
// Redis pool between two reads of its /metrics, and how long on average:
// time in its scripts' round trips that was the node's, not Redis's.
func poolView(node string, before, after map[string]float64) string {
	total, ok := after["lianxin_redis_pool_connections{state=\"total\"}"]
	if !ok {
		return ""
	}
	waits := after["lianxin_redis_pool_waits_total"] - before["lianxin_redis_pool_waits_total"]
	waited := after["lianxin_redis_pool_wait_seconds_total"] - before["lianxin_redis_pool_wait_seconds_total"]
	avg := 0.0
	if waits > 0 {
		avg = waited / waits * 1000
	}
	return fmt.Sprintf("node %s's Redis pool (%.0f connections): %.0f commands waited for one, %.1f ms on average; %.0f gave up\n",
		node, total, waits, avg, after["lianxin_redis_pool_timeouts_total"]-before["lianxin_redis_pool_timeouts_total"])
}
