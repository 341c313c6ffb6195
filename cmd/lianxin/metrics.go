package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"runtime/metrics"
	"sort"
	"strconv"
	"time"

	"github.com/lianxin/lianxin/agentdesk"
	"github.com/lianxin/lianxin/archive"
	"github.com/lianxin/lianxin/queue"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// queueCollector reads the live queue picture from Redis at each scrape, so
// every node reports the same, whole-deployment numbers.
type queueCollector struct {
	q       *queue.Queue
	desk    *agentdesk.Server
	waiting *prometheus.Desc
	oldest  *prometheus.Desc
	agents  *prometheus.Desc
	desks   *prometheus.Desc
	up      *prometheus.Desc
	dropped *prometheus.Desc
}

func newQueueCollector(q *queue.Queue, desk *agentdesk.Server) *queueCollector {
	return &queueCollector{q: q, desk: desk,
		waiting: prometheus.NewDesc("lianxin_queue_waiting", "Contacts waiting in the queue.", []string{"queue"}, nil),
		oldest: prometheus.NewDesc("lianxin_queue_oldest_wait_seconds", "How long the oldest waiting contact has waited.",
			[]string{"queue"}, nil),
		agents: prometheus.NewDesc("lianxin_queue_agents", "Agents with the queue's skill, by state.", []string{"queue", "state"}, nil),
		desks:  prometheus.NewDesc("lianxin_desks_connected", "Agent desks connected to this node.", nil, nil),
		up:     prometheus.NewDesc("lianxin_redis_up", "1 if Redis answered the scrape's queue query.", nil, nil),
		dropped: prometheus.NewDesc("lianxin_events_dropped_total",
			"Entries of the event stream a consumer group stalled past queue.max_event_lag lost to trimming.",
			[]string{"group"}, nil),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.waiting, c.oldest, c.agents, c.desks, c.up, c.dropped} {
		ch <- d
	}
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.desks, prometheus.GaugeValue, float64(c.desk.Desks()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stats, err := c.q.Stats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for _, s := range stats {
		ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(s.Waiting), s.Name)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, s.OldestWait, s.Name)
		for st, n := range s.Agents {
			ch <- prometheus.MustNewConstMetric(c.agents, prometheus.GaugeValue, float64(n), s.Name, string(st))
		}
	}
	if dropped, err := c.q.DroppedEvents(ctx); err == nil {
		for g, n := range dropped {
			ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(n), g)
		}
	}
}

// withMetrics counts requests by route pattern and status.
func withMetrics(reg prometheus.Registerer, next http.Handler) http.Handler {
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lianxin_http_requests_total",
		Help: "HTTP requests by route and status."}, []string{"route", "code"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lianxin_http_request_seconds",
		Help: "HTTP request time by route (websockets excluded).", Buckets: prometheus.DefBuckets}, []string{"route"})
	reg.MustRegister(reqs, dur)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		reqs.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		if route != "GET /desk/ws" {
			dur.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController (and the websocket upgrade) reach the
// underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// recoverPanics turns a panic in a handler into a 500 with a JSON body and a
// log line, instead of a dropped connection.
func recoverPanics(log *zap.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("handler panic", zap.Any("panic", v), zap.String("route", r.Pattern), zap.Stack("stack"))
				agentdesk.WriteError(w, http.StatusInternalServerError, "internal", "internal error; it has been logged")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// Hijack lets the websocket upgrade take over the connection.
func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("response writer cannot hijack")
	}
	s.code = http.StatusSwitchingProtocols
	return h.Hijack()
}

// archiveCollector reports how far the archive is behind the event stream,
// measured at each scrape (a few Redis commands).
type archiveCollector struct {
	a            *archive.Archiver
	entries, age *prometheus.Desc
}

func newArchiveCollector(a *archive.Archiver) *archiveCollector {
	return &archiveCollector{a: a,
		entries: prometheus.NewDesc("lianxin_archive_lag_entries",
			"Entries of the event stream not yet archived in PostgreSQL.", nil, nil),
		age: prometheus.NewDesc("lianxin_archive_lag_seconds",
			"Age of the oldest entry of the event stream not yet archived (0 when none).", nil, nil)}
}

func (c *archiveCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.entries; ch <- c.age }

func (c *archiveCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, age, err := c.a.Lag(ctx)
	if err != nil {
		return // Redis does not answer: lianxin_redis_up says so
	}
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age.Seconds())
}

// schedCollector serves the Go scheduler's latencies (runtime/metrics'
// /sched/latencies:seconds: how long goroutines waited to run once
// runnable) as a histogram with a few bounds. A node short of CPU shows it
// here first: its feed, desks and calls all wait for a thread. prometheus'
// collectors package has it too, but links database/sql (see serve).
type schedCollector struct {
	desc   *prometheus.Desc
	bounds []float64
}

func newSchedCollector() *schedCollector {
	return &schedCollector{
		desc: prometheus.NewDesc("go_sched_latencies_seconds",
			"How long goroutines waited to run once runnable (runtime/metrics /sched/latencies:seconds).", nil, nil),
		bounds: []float64{1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, .01, .025, .05, .1, .25, 1},
	}
}

func (c *schedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *schedCollector) Collect(ch chan<- prometheus.Metric) {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return
	}
	count, sum, buckets := schedBuckets(s[0].Value.Float64Histogram(), c.bounds)
	ch <- prometheus.MustNewConstHistogram(c.desc, count, sum, buckets)
}

// schedBuckets folds a runtime histogram into cumulative counts at bounds:
// each runtime bucket counts at the first bound at or above its upper end
// (a wait is never reported shorter than it was). sum is estimated from
// the buckets' midpoints (their finite ends for the open ones).
func schedBuckets(h *metrics.Float64Histogram, bounds []float64) (count uint64, sum float64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(bounds))
	per := make([]uint64, len(bounds))
	for i, n := range h.Counts {
		if n == 0 {
			continue
		}
		lo, hi := h.Buckets[i], h.Buckets[i+1]
		count += n
		switch {
		case math.IsInf(lo, -1):
			sum += float64(n) * max(hi, 0)
		case math.IsInf(hi, 1):
			sum += float64(n) * lo
		default:
			sum += float64(n) * (lo + hi) / 2
		}
		if k := sort.SearchFloat64s(bounds, hi); k < len(bounds) {
			per[k] += n
		}
	}
	var cum uint64
	for k, b := range bounds {
		cum += per[k]
		buckets[b] = cum
	}
	return count, sum, buckets
}

// poolCollector reports the node's pool of Redis connections (go-redis's
// PoolStats). A command that found every connection busy waited for the
// node, not for Redis, and its script's round trip
// (lianxin_redis_script_seconds) counts that wait all the same: the waits
// here tell the two apart (redis.pool_size).
type poolCollector struct {
	rdb                            redis.UniversalClient
	conns, waits, waited, timeouts *prometheus.Desc
}

func newPoolCollector(rdb redis.UniversalClient) *poolCollector {
	return &poolCollector{
		rdb: rdb,
		conns: prometheus.NewDesc("lianxin_redis_pool_connections",
			"Connections of the node's Redis pool, by state (total, idle).", []string{"state"}, nil),
		waits: prometheus.NewDesc("lianxin_redis_pool_waits_total",
			"Commands that waited for a connection of the node's Redis pool.", nil, nil),
		waited: prometheus.NewDesc("lianxin_redis_pool_wait_seconds_total",
			"Time commands waited for a connection of the node's Redis pool.", nil, nil),
		timeouts: prometheus.NewDesc("lianxin_redis_pool_timeouts_total",
			"Commands that gave up waiting for a connection of the node's Redis pool.", nil, nil),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.conns
	ch <- c.waits
	ch <- c.waited
	ch <- c.timeouts
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.rdb.PoolStats()
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.TotalConns), "total")
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.IdleConns), "idle")
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(s.WaitCount))
	ch <- prometheus.MustNewConstMetric(c.waited, prometheus.CounterValue, time.Duration(s.WaitDurationNs).Seconds())
	ch <- prometheus.MustNewConstMetric(c.timeouts, prometheus.CounterValue, float64(s.Timeouts))
}
