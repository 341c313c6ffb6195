package queue

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// metrics is what a node's engineer on call reads of its queue: how long
// each script takes as the node sees it (the round trip, Redis's queue of
// commands and the script itself), how many failed, and how late the
// node's feed hands events on to its desks and calls. Each Queue has its
// own; Collectors gives them to a registry.
type metrics struct {
	names   map[*redis.Script]string
	seconds *prometheus.HistogramVec
	failed  *prometheus.CounterVec
	feed    prometheus.Histogram
	batch   prometheus.Histogram
}

func newMetrics(byName map[string]*redis.Script) *metrics {
	m := &metrics{names: make(map[*redis.Script]string, len(byName)),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lianxin_redis_script_seconds",
			Help:    "Queue scripts run by this node, by script: the time from sending the call to its answer.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}},
			[]string{"script"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lianxin_redis_script_failures_total",
			Help: "Queue scripts run by this node that failed: Redis unreachable, timed out or refused the call, " +
				"or the script broke (not the answers a caller acts on, such as a contact that is not the agent's)."},
			[]string{"script"}),
		feed: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lianxin_feed_delay_seconds",
			Help: "How long after an event entered the stream (Redis's clock) this node's feed handed it to its " +
				"desks and calls: an offer reaches a desk this late.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lianxin_redis_script_batch_calls",
			Help: "Script calls this node sent to Redis together, in one round trip (calls made at once while " +
				"the batch before them was in flight); a batch's calls wait for its last.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64}}),
	}
	for name, s := range byName {
		m.names[s] = name
	}
	return m
}

// Collectors are the queue's metrics, for a Prometheus registry.
func (q *Queue) Collectors() []prometheus.Collector {
	return []prometheus.Collector{q.m.seconds, q.m.failed, q.m.feed, q.m.batch}
}

// script records one call of script s that took d and ended with err.
func (m *metrics) script(s *redis.Script, d time.Duration, err error) {
	name, ok := m.names[s]
	if !ok {
		name = "other"
	}
	m.seconds.WithLabelValues(name).Observe(d.Seconds())
	if failed(err) {
		m.failed.WithLabelValues(name).Inc()
	}
}

// failed says whether a script's err is a failure: not nil, not an answer
// the caller acts on (scriptError's domain errors, a nil reply), and not
// the caller giving up (a node stopping).
func failed(err error) bool {
	switch {
	case err == nil, errors.Is(err, redis.Nil), errors.Is(err, context.Canceled):
		return false
	}
	return Temporary(scriptError(err))
}

// fed records how late the feed handed on the event of stream id at now.
func (m *metrics) fed(id string, now time.Time) {
	ms, _, _ := strings.Cut(id, "-")
	at, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return
	}
	m.feed.Observe(max(0, float64(now.UnixMilli()-at)/1000))
}
