package sms

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/lianxin/lianxin/channels/sms/smpp"
	"go.uber.org/zap"
)

// runSMPP keeps one bind to the SMSC up: bind, serve until the link drops,
// then bind again after an exponential backoff (rebind_min doubling to
// rebind_max, with jitter; back to rebind_min after a bind that worked).
func (g *Gateway) runSMPP(ctx context.Context) error {
	c := g.c.SMPP
	wait := c.RebindMin
	for {
		bound, err := g.bindAndServe(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if bound {
			wait = c.RebindMin
		}
		d := wait/2 + rand.N(wait/2+1)
		g.log.Warn("SMPP link down; binding again", zap.String("smsc", c.Addr), zap.Duration("in", d), zap.Error(err))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, c.RebindMax)
	}
}

// bindAndServe dials, binds and serves one session. bound says whether the
// SMSC took the bind.
func (g *Gateway) bindAndServe(ctx context.Context) (bound bool, err error) {
	c := g.c.SMPP
	d := net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return false, fmt.Errorf("sms: connect to SMSC: %w", err)
	}
	id := smpp.BindTransceiver
	if c.Mode == "receiver" {
		id = smpp.BindReceiver
	}
	if err := bind(ctx, conn, id, c); err != nil {
		_ = conn.Close()
		return false, err
	}
	s := newSession(g, conn, id == smpp.BindTransceiver)
	g.log.Info("SMPP bound", zap.String("smsc", c.Addr), zap.String("as", id.String()))
	return true, s.serve(ctx)
}

// bind sends the bind request and reads its response within the response
// timeout (or until ctx ends).
func bind(ctx context.Context, conn net.Conn, id smpp.CommandID, c SMPP) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(c.ResponseTimeout))
	req := &smpp.PDU{ID: id, Seq: 1, Bind: &smpp.Bind{SystemID: c.SystemID, Password: c.Password,
		SystemType: c.SystemType, InterfaceVersion: 0x34}}
	b, err := req.Marshal()
	if err != nil {
		return err
	}
	if _, err := conn.Write(b); err != nil {
		return fmt.Errorf("sms: send %s: %w", id, err)
	}
	for {
		f, err := smpp.ReadFrame(conn, nil, c.MaxPDU)
		if err != nil {
			return fmt.Errorf("sms: waiting for %s_resp: %w", id, err)
		}
		p, err := smpp.Unmarshal(f)
		if err != nil {
			return fmt.Errorf("sms: %s_resp: %w", id, err)
		}
		switch {
		case p.ID == smpp.EnquireLink: // an eager SMSC; answer and keep waiting
			r, _ := (&smpp.PDU{ID: smpp.EnquireLinkResp, Seq: p.Seq}).Marshal()
			if _, err := conn.Write(r); err != nil {
				return err
			}
			continue
		case p.ID == smpp.GenericNack:
			return fmt.Errorf("sms: SMSC refused %s with generic_nack %s", id, p.Status)
		case p.ID != id.Resp() || p.Seq != req.Seq:
			return fmt.Errorf("sms: SMSC answered %s with %s", id, p.ID)
		case p.Status != smpp.StatusOK:
			return fmt.Errorf("%w: SMSC refused %s: %s", errBindRefused, id, p.Status)
		}
		return conn.SetDeadline(time.Time{})
	}
}

var errBindRefused = errors.New("sms: bind refused")
