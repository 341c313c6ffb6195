package sip

import (
	"sync/atomic"

	"github.com/lianxin/lianxin/sip/media"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the voice front end's Prometheus series.
type Metrics struct {
	setup         prometheus.Counter
	answered      prometheus.Counter
	bridged       prometheus.Counter
	refused       *prometheus.CounterVec
	ended         *prometheus.CounterVec
	mediaTimeouts prometheus.Counter
	reconciled    prometheus.Counter
	// lineTransfers counts transfers to an emergency line by line and
	// result (connected, or why not: queue.LineStep.Reason).
	lineTransfers *prometheus.CounterVec
	// RTP of ended legs, by leg (caller, agent); live legs are added when
	// the series are read.
	rtp [2]rtpTotals
	ivr ivrMetrics
}

// rtpTotals are one kind of leg's packet counts.
type rtpTotals struct{ in, out, lost atomic.Uint64 }

const (
	legCaller = iota
	legAgent
)

var legNames = [2]string{"caller", "agent"}

func newMetrics() *Metrics {
	return &Metrics{
		setup:    prometheus.NewCounter(prometheus.CounterOpts{Name: "lianxin_sip_calls_setup_total", Help: "Calls taken (INVITEs accepted for answering)."}),
		answered: prometheus.NewCounter(prometheus.CounterOpts{Name: "lianxin_sip_calls_answered_total", Help: "Calls answered (200 OK acknowledged)."}),
		bridged:  prometheus.NewCounter(prometheus.CounterOpts{Name: "lianxin_sip_calls_bridged_total", Help: "Calls bridged to an agent's phone."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lianxin_sip_calls_refused_total",
			Help: "INVITEs refused, by reason (untrusted 403, unknown_number 404, no_codec 488, bad_sdp 400, full/draining 503)."}, []string{"reason"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lianxin_sip_calls_ended_total",
			Help: "Calls ended, by who ended them (caller, agent, media_timeout, shutdown, cancelled)."}, []string{"by"}),
		mediaTimeouts: prometheus.NewCounter(prometheus.CounterOpts{Name: "lianxin_sip_media_timeouts_total", Help: "Legs ended because no RTP arrived."}),
		reconciled: prometheus.NewCounter(prometheus.CounterOpts{Name: "lianxin_sip_calls_reconciled_total",
			Help: "Contacts found among this node's calls in Redis whose call it no longer held (an end never recorded), handled as lost calls."}),
		lineTransfers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lianxin_sip_line_transfers_total",
			Help: "Transfers of calls to an emergency line, by line (110, 119, 120, 122) and result (connected, busy, no_answer, unreachable, caller_gone, or refused: not_in_talk, under_way, no_target, callback, gone)."},
			[]string{"line", "result"}),
		ivr: newIVRMetrics(),
	}
}

// account adds an ended leg's counts.
func (m *Metrics) account(leg int, st media.LegStats) {
	m.rtp[leg].in.Add(st.PacketsReceived)
	m.rtp[leg].out.Add(st.PacketsSent)
	m.rtp[leg].lost.Add(st.Lost)
}

// rtpNow is every leg's counts so far: the ended ones and the live ones.
func (s *Server) rtpNow() [2][3]uint64 {
	var out [2][3]uint64
	for i := range out {
		out[i] = [3]uint64{s.metrics.rtp[i].in.Load(), s.metrics.rtp[i].out.Load(), s.metrics.rtp[i].lost.Load()}
	}
	add := func(i int, st media.LegStats) {
		out[i][0] += st.PacketsReceived
		out[i][1] += st.PacketsSent
		out[i][2] += st.Lost
	}
	for _, c := range s.liveCalls() {
		if c.leg != nil && !c.accounted.Load() {
			add(legCaller, c.leg.Stats())
		}
		c.mu.Lock()
		a := c.ring
		c.mu.Unlock()
		if a != nil {
			if l := a.media(); l != nil && !a.accounted.Load() {
				add(legAgent, l.Stats())
			}
		}
	}
	return out
}

// Collectors returns the server's series, to register in the node's
// registry, and a gauge of calls by state.
func (s *Server) Collectors() []prometheus.Collector {
	m := s.metrics
	states := prometheus.NewDesc("lianxin_sip_calls", "Calls this node holds, by state.", []string{"state"}, nil)
	read := func(f func(st media.PacerStats) float64) func() float64 {
		return func() float64 {
			if s.pacer == nil {
				return 0
			}
			return f(s.pacer.Stats())
		}
	}
	pacer := func(name, help string, f func(st media.PacerStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, read(f))
	}
	pacerCount := func(name, help string, f func(st media.PacerStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, read(f))
	}
	return append(m.ivr.collectors(), m.setup, m.answered, m.bridged, m.refused, m.ended, m.mediaTimeouts, m.reconciled,
		m.lineTransfers,
		stateCollector{s: s, desc: states}, rtpCollector{s: s},
		pacer("lianxin_sip_paced_legs", "Legs sent prompts or hold audio by the pacer now.",
			func(st media.PacerStats) float64 { return float64(st.Active) }),
		pacerCount("lianxin_sip_pacer_packets_total", "Packets sent by the pacer (prompts and hold audio).",
			func(st media.PacerStats) float64 { return float64(st.Sent) }),
		pacerCount("lianxin_sip_pacer_late_ticks_total", "Pacer ticks that woke late and sent missed frames at once.",
			func(st media.PacerStats) float64 { return float64(st.LateTicks) }),
		pacer("lianxin_sip_pacer_send_interval_p99_seconds", "p99 of the interval between a leg's paced packets (20 ms is on time).",
			func(st media.PacerStats) float64 { return st.IntervalP99.Seconds() }),
	)
}

type stateCollector struct {
	s    *Server
	desc *prometheus.Desc
}

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{stRinging: 0, stIVR: 0, stWaiting: 0, stOffered: 0, stTalking: 0}
	for _, cl := range c.s.liveCalls() {
		counts[cl.State()]++
	}
	for st, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), st)
	}
}

var (
	rtpPacketsDesc = prometheus.NewDesc("lianxin_sip_rtp_packets_total",
		"RTP packets by leg (caller: the citizen's trunk; agent: the agent's phone) and direction (in: received, out: sent: prompts, hold audio and the relayed other party).",
		[]string{"leg", "direction"}, nil)
	rtpLostDesc = prometheus.NewDesc("lianxin_sip_rtp_lost_total",
		"RTP packets lost on the way to the gateway, by leg (gaps in the received sequence numbers).", []string{"leg"}, nil)
)

// rtpCollector reads the RTP counts of every leg, live or ended.
type rtpCollector struct{ s *Server }

func (c rtpCollector) Describe(ch chan<- *prometheus.Desc) { ch <- rtpPacketsDesc; ch <- rtpLostDesc }

func (c rtpCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.s.rtpNow()
	for i, name := range legNames {
		ch <- prometheus.MustNewConstMetric(rtpPacketsDesc, prometheus.CounterValue, float64(now[i][0]), name, "in")
		ch <- prometheus.MustNewConstMetric(rtpPacketsDesc, prometheus.CounterValue, float64(now[i][1]), name, "out")
		ch <- prometheus.MustNewConstMetric(rtpLostDesc, prometheus.CounterValue, float64(now[i][2]), name)
	}
}
