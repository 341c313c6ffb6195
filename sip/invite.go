package sip

import (
	"errors"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/lianxin/lianxin/channels"
	"go.uber.org/zap"
)

// onInvite takes a new call, or a re-INVITE inside one. A refused call
// (403, 404, 488, 503) is answered before any state is kept.
func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil {
		if tag, ok := to.Params.Get("tag"); ok && tag != "" {
			s.reinvite(req, tx)
			return
		}
	}
	if !s.isTrusted(req.Source()) {
		s.metrics.refused.WithLabelValues("untrusted").Inc()
		respond(tx, req, 403, "Forbidden")
		return
	}
	if agent, ok := browserAgent(req); ok {
		s.wg.Add(1)
		defer s.wg.Done()
		s.browserInvite(req, tx, agent)
		return
	}
	if s.draining.Load() {
		s.metrics.refused.WithLabelValues("draining").Inc()
		respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", s.retryAfter()))
		return
	}
	line, ok := s.dialled(req)
	if !ok {
		s.metrics.refused.WithLabelValues("unknown_number").Inc()
		respond(tx, req, 404, "Not Found")
		return
	}
	offer, err := parseSDP(req.Body())
	if err != nil {
		if errors.Is(err, ErrNoCodec) {
			s.metrics.refused.WithLabelValues("no_codec").Inc()
			res := sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil)
			res.AppendHeader(sip.NewHeader("Warning", `304 lianxin "PCMU or PCMA audio required"`))
			_ = tx.Respond(res)
			return
		}
		s.metrics.refused.WithLabelValues("bad_sdp").Inc()
		respond(tx, req, 400, "Bad Request", sip.NewHeader("Warning", `399 lianxin "`+sanitize(err.Error())+`"`))
		return
	}
	id := callID(req)
	s.mu.Lock()
	if len(s.byCall) >= s.cfg.MaxCalls {
		s.mu.Unlock()
		s.metrics.refused.WithLabelValues("full").Inc()
		respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", s.retryAfter()))
		return
	}
	if s.byCall[id] != nil {
		s.mu.Unlock()
		respond(tx, req, 482, "Loop Detected")
		return
	}
	c := newCall(s, id, line, callerOf(req))
	s.byCall[id] = c
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer s.forget(c)
	s.metrics.setup.Inc()
	c.run(req, tx, offer)
}

func (s *Server) retryAfter() string { return strconv.Itoa(int(s.cfg.RetryAfter.Seconds())) }

// dialled finds the line: the request-URI's user, then the To header's.
func (s *Server) dialled(req *sip.Request) (Line, bool) {
	if l, ok := s.p.Lines(req.Recipient.User); ok && req.Recipient.User != "" {
		return l, true
	}
	if to := req.To(); to != nil && to.Address.User != "" {
		return s.p.Lines(to.Address.User)
	}
	return Line{}, false
}

// callerOf is the caller's number: P-Asserted-Identity (set by a trusted
// trunk), else From. "" means withheld (anonymous).
func callerOf(req *sip.Request) string {
	user := ""
	if h := req.GetHeader("P-Asserted-Identity"); h != nil {
		var u sip.Uri
		v := h.Value()
		if i := strings.IndexByte(v, ','); i >= 0 {
			v = v[:i]
		}
		if _, err := sip.ParseAddressValue(v, &u, nil); err == nil {
			user = u.User
			if u.Scheme == "tel" || (user == "" && u.Host != "") {
				user = u.Host
			}
		}
	}
	if user == "" {
		if f := req.From(); f != nil {
			user = f.Address.User
		}
	}
	if strings.EqualFold(user, "anonymous") || strings.EqualFold(user, "unknown") || user == "" {
		return ""
	}
	if e, ok := channels.PhoneE164(user); ok {
		return e
	}
	return ""
}

func (s *Server) forget(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byCall, c.id)
	if tn := c.trackingNo(); tn != "" && s.byTN[tn] == c {
		delete(s.byTN, tn)
	}
	for id, ac := range s.byAgent {
		if ac == c {
			delete(s.byAgent, id)
		}
	}
}

// reinvite answers an INVITE inside a dialog: hold and unhold by the caller
// (or a new address), answered with our unchanged session.
func (s *Server) reinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if a := c.agentSide(req); a != nil {
		c.agentUpdate(a, req, tx)
		return
	}
	c.update(req, tx)
}

// agentSide is the agent leg a request inside a dialog comes from, nil when it is the caller's.
func (c *call) agentSide(req *sip.Request) *agentLeg {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ring != nil && c.ring.id == callID(req) && c.id != c.ring.id {
		return c.ring
	}
	return nil
}

// sanitize keeps a text safe inside a quoted header value.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

func maskCaller(e164 string) zap.Field {
	if e164 == "" {
		return zap.String("caller", "anonymous")
	}
	return zap.String("caller", channels.MaskPhone(e164))
}
