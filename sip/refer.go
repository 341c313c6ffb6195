package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/lianxin/lianxin/channels/linkage"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// ErrBadReferTo is a REFER whose Refer-To the gateway cannot follow.
var ErrBadReferTo = errors.New("sip: bad Refer-To")

// ParseReferTo reads a REFER's Refer-To (RFC 3515) and returns the user
// part of its SIP URI: an emergency line (120), an agent's phone user
// (1002) or a queue's name (consumer). A Refer-To with Replaces (an
// attended transfer) or a method other than INVITE is refused.
func ParseReferTo(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 1024 {
		return "", fmt.Errorf("%w: empty or longer than 1024 bytes", ErrBadReferTo)
	}
	var u sip.Uri
	params := sip.NewParams()
	if _, err := sip.ParseAddressValue(v, &u, &params); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadReferTo, err)
	}
	if u.Scheme != "sip" && u.Scheme != "sips" {
		return "", fmt.Errorf("%w: a sip: URI is required", ErrBadReferTo)
	}
	if m, ok := u.UriParams.Get("method"); ok && !strings.EqualFold(m, "INVITE") {
		return "", fmt.Errorf("%w: method %q: only INVITE", ErrBadReferTo, m)
	}
	if u.Headers != nil {
		for _, k := range u.Headers.Keys() {
			if strings.EqualFold(k, "Replaces") {
				return "", fmt.Errorf("%w: attended transfer (Replaces) is not supported: transfer from the desk", ErrBadReferTo)
			}
		}
	}
	user := u.User
	if user == "" || len(user) > 64 || strings.ContainsAny(user, " \t\r\n:;@<>\"") {
		return "", fmt.Errorf("%w: the URI's user must name a line, an agent or a queue", ErrBadReferTo)
	}
	return user, nil
}

// onRefer takes an agent's phone's blind transfer of the call it is
// talking on: Refer-To names an emergency line (sip:120@…), another
// agent's phone user (sip:1002@…) or a queue (sip:consumer@…). It is
// answered 202 and done as the desk's transfer would; a NOTIFY (sipfrag)
// tells the phone how it went. The phone's leg is hung up as the transfer
// takes over.
func (s *Server) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	id := callID(req)
	s.mu.Lock()
	c := s.byAgent[id]
	s.mu.Unlock()
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.mu.Lock()
	a := c.ring
	c.mu.Unlock()
	if a == nil || a.id != id || !a.up.Load() || c.State() != stTalking || strings.HasPrefix(a.agent, "line:") ||
		c.leg == nil || c.external() {
		respond(tx, req, 403, "Forbidden", sip.NewHeader("Warning", `399 lianxin "only an agent in talk with a caller can transfer"`))
		return
	}
	h := req.GetHeader("Refer-To")
	if h == nil {
		respond(tx, req, 400, "Bad Request", sip.NewHeader("Warning", `399 lianxin "Refer-To required"`))
		return
	}
	user, err := ParseReferTo(h.Value())
	if err != nil {
		respond(tx, req, 400, "Bad Request", sip.NewHeader("Warning", `399 lianxin "`+sanitize(err.Error())+`"`))
		return
	}
	kind, target := s.referTarget(user)
	if kind == "" {
		respond(tx, req, 404, "Not Found", sip.NewHeader("Warning", `399 lianxin "no line, agent or queue `+sanitize(user)+`"`))
		return
	}
	// The phone may hang up as soon as it has the 202 (RFC 3515 lets it), or
	// on the NOTIFY: its leg's end must not end the call (run's agentGone)
	// while the transfer is under way or done, so the leg is marked before
	// the 202 goes. Refused, the hang-up is taken again, as the agent
	// leaving the caller.
	a.referring.Store(true)
	respond(tx, req, 202, "Accepted")
	c.log.Info("transfer by REFER", zap.String("agent", a.agent), zap.String("kind", kind), zap.String("target", target))
	go func() {
		if f := s.beforeRefer.Load(); f != nil {
			(*f)()
		}
		var ok bool
		switch kind {
		case "line":
			// Taken: the phone is told so, then hung up; the line is called.
			if c.transferOut(a.agent, target, "blind", "", func() { a.notifyRefer(true) }) {
				return
			}
		default:
			to := queue.TransferTo{Boost: s.cfg.Transfer.Boost, BackToAgent: s.cfg.Transfer.MissReturn == "agent"}
			if kind == "agent" {
				to.Agent = target
			} else {
				to.Queue = target
			}
			ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 5*time.Second)
			err := s.q.Transfer(ctx, a.agent, c.trackingNo(), to)
			cancel()
			ok = err == nil
			if !ok {
				c.log.Info("transfer by REFER refused", zap.Error(err))
			}
		}
		if !ok {
			a.referring.Store(false)
			c.retake(a.agent)
		}
		a.notifyRefer(ok)
	}()
}

// referTarget finds what a Refer-To's user names.
func (s *Server) referTarget(user string) (kind, target string) {
	if t, ok := s.cfg.Transfer.Targets[user]; ok && linkage.IsLine(user) && t.URI != "" {
		return "line", user
	}
	if p, ok := s.reg.phones[user]; ok {
		return "agent", p.Agent
	}
	for _, d := range s.q.Queues() {
		if d.Name == user {
			return "queue", user
		}
	}
	return "", ""
}

// notifyRefer tells the phone the REFER's outcome (RFC 3515 NOTIFY with a
// sipfrag), if its dialog is still up; the phone hangs up on success.
func (a *agentLeg) notifyRefer(ok bool) {
	if a.dlg == nil || a.gone.Load() {
		return
	}
	frag := "SIP/2.0 200 OK"
	if !ok {
		frag = "SIP/2.0 503 Service Unavailable"
	}
	req := sip.NewRequest(sip.NOTIFY, a.dlg.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Event", "refer"))
	req.AppendHeader(sip.NewHeader("Subscription-State", "terminated;reason=noresource"))
	req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte(frag))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := a.dlg.Do(ctx, req); err != nil {
		a.c.log.Debug("NOTIFY of the REFER", zap.Error(err))
	}
}
