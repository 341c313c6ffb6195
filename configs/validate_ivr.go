package configs

import (
	"io/fs"
	"net/url"

	"github.com/lianxin/lianxin/sip"
)

// ivr checks what goes on around the talk: the caller's rating, recording,
// hot-topic answers (sip) and the rating of text contacts (rating).
func (v *validator) ivr(s sip.Config, r Rating, prompts fs.FS) {
	if s.Rating.Enabled {
		v.prompt(prompts, s.Prompts, "sip.rating.prompt", s.Rating.Prompt)
		v.prompt(prompts, s.Prompts, "sip.rating.thanks", s.Rating.Thanks)
		v.positive("sip.rating.timeout", s.Rating.Timeout)
		v.check(s.Rating.Retries >= 0 && s.Rating.Retries <= MaxMenuRetries, "sip.rating.retries",
			"%d: must be 0–%d", s.Rating.Retries, MaxMenuRetries)
	}
	rec := s.Recording
	for _, l := range rec.Lines {
		v.check(l == "*" || lineNumberRE.MatchString(l), "sip.recording.lines",
			"%q: a line's number (digits, as in the directory) or * for every line", l)
	}
	if len(rec.Lines) > 0 {
		v.prompt(prompts, s.Prompts, "sip.recording.notice", rec.Notice)
	}
	v.positive("sip.recording.retention", rec.Retention)
	v.check(rec.Buffer >= 10, "sip.recording.buffer", "%d: at least 10 frames (200 ms)", rec.Buffer)
	v.check(rec.MaxBytes >= 1<<20, "sip.recording.max_bytes", "%d: at least 1 MiB", rec.MaxBytes)
	h := s.HotTopics
	v.prompt(prompts, s.Prompts, "sip.hot_topics.prompt", h.Prompt)
	v.positive("sip.hot_topics.timeout", h.Timeout)
	v.positive("sip.hot_topics.refresh", h.Refresh)
	v.positive("rating.window", r.Window)
	if r.PublicURL != "" {
		u, err := url.Parse(r.PublicURL)
		v.check(err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.RawQuery == "",
			"rating.public_url", "%q: an http(s) URL with a host, e.g. https://12345.example.gov.cn", r.PublicURL)
	}
}
