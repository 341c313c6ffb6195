package sms

import (
	"net/http"

	"go.uber.org/zap"
)

// cloudPush is what differs between the cloud providers' push endpoints:
// how to read a push, and how to answer in the provider's own words.
type cloudPush struct {
	provider string
	// token, when set, must be the request's ?token=.
	token string
	parse func(body []byte) ([]inbound, error)
	// answer makes the body for code 0 (all stored), -1 (not stored, retry)
	// or 1 (refused; msg says why).
	answer func(code int, msg string) any
}

// push serves one provider's push: every item is checked before any is
// stored, and the provider hears "received" only once all are durable.
func (g *Gateway) push(w http.ResponseWriter, r *http.Request, p cloudPush) {
	fail := func(err error) {
		st := status(err)
		if st == http.StatusServiceUnavailable {
			g.log.Warn(p.provider+" push not stored; the provider will retry", zap.Error(err))
			writeJSON(w, st, p.answer(-1, ""))
			return
		}
		writeJSON(w, st, p.answer(1, err.Error()))
	}
	if err := checkToken(r, p.token); err != nil {
		fail(err)
		return
	}
	body, err := g.readBody(w, r)
	if err != nil {
		fail(err)
		return
	}
	ms, err := p.parse(body)
	if err != nil {
		fail(err)
		return
	}
	for i, m := range ms {
		if _, err := g.take(r.Context(), m); err != nil {
			if permanent(err) {
				err = refuse(http.StatusBadRequest, "[%d]: %v", i, err)
			}
			fail(err)
			return
		}
	}
	writeJSON(w, http.StatusOK, p.answer(0, ""))
}
