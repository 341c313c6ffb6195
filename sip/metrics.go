package sip

import (
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
	rtpIn, rtpOut prometheus.Counter
	rtpLost       prometheus.Counter
}

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
		rtpIn:         prometheus.NewCounter(prometheus.CounterOpts{Name: "lianxin_sip_rtp_received_total", Help: "RTP packets received from callers (counted when a call ends)."}),
		rtpOut:        prometheus.NewCounter(prometheus.CounterOpts{Name: "lianxin_sip_rtp_sent_total", Help: "RTP packets sent to callers (counted when a call ends)."}),
		rtpLost:       prometheus.NewCounter(prometheus.CounterOpts{Name: "lianxin_sip_rtp_lost_total", Help: "RTP packets from callers lost on the way (sequence gaps)."}),
	}
}

func (m *Metrics) account(st media.LegStats) {
	m.rtpIn.Add(float64(st.PacketsReceived))
	m.rtpOut.Add(float64(st.PacketsSent))
	m.rtpLost.Add(float64(st.Lost))
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
	return []prometheus.Collector{m.setup, m.answered, m.bridged, m.refused, m.ended, m.mediaTimeouts, m.rtpIn,
		m.rtpOut, m.rtpLost, stateCollector{s: s, desc: states},
		pacer("lianxin_sip_paced_legs", "Legs sent prompts or hold audio by the pacer now.",
			func(st media.PacerStats) float64 { return float64(st.Active) }),
		pacerCount("lianxin_sip_pacer_packets_total", "Packets sent by the pacer (prompts and hold audio).",
			func(st media.PacerStats) float64 { return float64(st.Sent) }),
		pacerCount("lianxin_sip_pacer_late_ticks_total", "Pacer ticks that woke late and sent missed frames at once.",
			func(st media.PacerStats) float64 { return float64(st.LateTicks) }),
		pacer("lianxin_sip_pacer_send_interval_p99_seconds", "p99 of the interval between a leg's paced packets (20 ms is on time).",
			func(st media.PacerStats) float64 { return st.IntervalP99.Seconds() }),
	}
}

type stateCollector struct {
	s    *Server
	desc *prometheus.Desc
}

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{stRinging: 0, stIVR: 0, stWaiting: 0, stOffered: 0, stTalking: 0}
	c.s.mu.Lock()
	calls := make([]*call, 0, len(c.s.byCall))
	for _, cl := range c.s.byCall {
		calls = append(calls, cl)
	}
	c.s.mu.Unlock()
	for _, cl := range calls {
		counts[cl.State()]++
	}
	for st, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), st)
	}
}
