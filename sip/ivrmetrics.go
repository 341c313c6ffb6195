package sip

import "github.com/prometheus/client_golang/prometheus"

// ivrMetrics count what happens around the talk: ratings, hot-topic
// answers, recordings.
type ivrMetrics struct {
	ratings       *prometheus.CounterVec
	hotTopicHeard prometheus.Counter
	ivrResolved   prometheus.Counter
	recordings    *prometheus.CounterVec
	recBytes      prometheus.Counter
	recDropped    prometheus.Counter
	recDeleted    prometheus.Counter
}

func newIVRMetrics() ivrMetrics {
	return ivrMetrics{
		ratings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lianxin_sip_ratings_total",
			Help: "Callers' ratings after the talk, by label (满意, 基本满意, 不满意)."}, []string{"label"}),
		hotTopicHeard: prometheus.NewCounter(prometheus.CounterOpts{Name: "lianxin_sip_hot_topic_played_total",
			Help: "Hot-topic answers played to callers."}),
		ivrResolved: prometheus.NewCounter(prometheus.CounterOpts{Name: "lianxin_sip_ivr_resolved_total",
			Help: "Callers whose question the hot-topic answer settled (pressed 1): contacts resolved by the IVR, not by agents."}),
		recordings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lianxin_sip_recordings_total",
			Help: "Call recordings, by result (stored, failed)."}, []string{"result"}),
		recBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "lianxin_sip_recording_bytes_total",
			Help: "Bytes of WAV written by call recorders."}),
		recDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "lianxin_sip_recording_frames_dropped_total",
			Help: "20 ms frames a call recorder dropped because its writer fell behind (the media path never waits for it)."}),
		recDeleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "lianxin_sip_recordings_deleted_total",
			Help: "Recordings deleted by the retention janitor."}),
	}
}

func (m ivrMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.ratings, m.hotTopicHeard, m.ivrResolved, m.recordings, m.recBytes, m.recDropped, m.recDeleted}
}
