package sip

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/stretchr/testify/require"
)

// inDialog sends a request inside the caller's dialog and returns the answer.
func (c *caller) inDialog(t *testing.T, method sip.RequestMethod, contentType string, body []byte) *sip.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := sip.NewRequest(method, c.dc.InviteResponse.Contact().Address)
	if contentType != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	}
	req.SetBody(body)
	res, err := c.dc.Do(ctx, req)
	require.NoError(t, err)
	return res
}

func offerDir(port int, dir string) []byte {
	return []byte(strings.Replace(string(sdpOffer(port, 0)), "a=sendrecv", "a="+dir, 1))
}

// TestReinviteHoldAndUpdate: the caller puts the gateway on hold and takes
// it off again by re-INVITE (answered recvonly, then sendrecv, and counted
// on the contact); a session-timer UPDATE is answered.
func TestReinviteHoldAndUpdate(t *testing.T) {
	e := newEnv(t)
	ph := newPhone(t, e, "1001", 0)
	e.seat("1001")
	c := dial(t, e, "12345", "13800138601", media.PCMU)
	eventually(t, 500, "talking", func() bool { return hasTone(heard(ph.rtp.packets()), toneCaller) })
	tn := ph.contact.Load().(string)

	res := c.inDialog(t, sip.INVITE, "application/sdp", offerDir(c.rtp.port(), "sendonly"))
	require.Equal(t, 200, res.StatusCode)
	require.Contains(t, string(res.Body()), "a=recvonly", "hold answered recvonly")
	ct, err := e.q.Contact(context.Background(), tn)
	require.NoError(t, err)
	require.True(t, ct.OnHold, "the hold is on the contact")

	res = c.inDialog(t, sip.INVITE, "application/sdp", offerDir(c.rtp.port(), "sendrecv"))
	require.Equal(t, 200, res.StatusCode)
	require.Contains(t, string(res.Body()), "a=sendrecv")
	ct, err = e.q.Contact(context.Background(), tn)
	require.NoError(t, err)
	require.False(t, ct.OnHold)

	require.Equal(t, 200, c.inDialog(t, sip.UPDATE, "", nil).StatusCode, "session-timer refresh")
	c.hangup(t)
	eventually(t, 300, "wrap-up with hold time", func() bool {
		ct, err := e.q.Contact(context.Background(), tn)
		return err == nil && ct.State == queue.StateWrapUp && ct.HoldSeconds > 0
	})
}

// TestInfoDTMF: a key sent as SIP INFO (application/dtmf-relay) works the
// menu like an RFC 4733 one.
func TestInfoDTMF(t *testing.T) {
	e := newEnv(t, withMenu)
	c := dial(t, e, "12345", "13800138602", media.PCMU)
	eventually(t, 300, "the menu plays", func() bool { return hasTone(heard(c.rtp.packets()), toneMenu) })
	res := c.inDialog(t, sip.INFO, "application/dtmf-relay", []byte("Signal=2\r\nDuration=160\r\n"))
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "consumer", waitQueued(t, e, "12345").Queue)
	require.Equal(t, 415, c.inDialog(t, sip.INFO, "text/plain", []byte("hello")).StatusCode)
	c.hangup(t)
}

// TestMediaTimeout: a caller whose audio stops is hung up on (BYE) and the
// contact records why.
func TestMediaTimeout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MediaTimeout = 700 * time.Millisecond })
	c := dial(t, e, "12345", "13800138603", media.PCMU)
	ct := waitQueued(t, e, "12345")
	c.rtp.close() // the caller's audio stops
	eventually(t, 300, "the gateway hangs up", func() bool { return c.byes.Load() > 0 })
	eventually(t, 300, "abandoned by media timeout", func() bool {
		got, err := e.q.Contact(context.Background(), ct.TrackingNo)
		return err == nil && got.Outcome == queue.OutcomeAbandoned && got.HangupBy == byMediaTimeout
	})
}

// TestDrainKeepsCalls: a draining node refuses new calls with 503 and keeps
// the calls it has until they end.
func TestDrainKeepsCalls(t *testing.T) {
	e := newEnv(t)
	c := dial(t, e, "12345", "13800138604", media.PCMU)
	waitQueued(t, e, "12345")
	drained := make(chan error, 1)
	go func() { drained <- e.s.Drain(context.Background()) }()
	eventually(t, 100, "draining", func() bool { return e.s.draining.Load() })
	u := newUA(t, "late")
	require.Equal(t, 503, invite(t, u, e, "12345", sdpOffer(40010, 0)))
	require.Equal(t, 1, e.s.Calls(), "the call in progress goes on")
	select {
	case err := <-drained:
		t.Fatalf("drain ended with a call up: %v", err)
	default:
	}
	c.hangup(t)
	require.NoError(t, <-drained)
}

// TestDeskEndsTheCall: `end` from the desk (queue.End) hangs the call up:
// the caller hears goodbye and gets BYE, the phone gets BYE, the contact
// waits for wrap-up.
func TestDeskEndsTheCall(t *testing.T) {
	e := newEnv(t)
	ph := newPhone(t, e, "1001", 0)
	e.seat("1001")
	c := dial(t, e, "12345", "13800138605", media.PCMU)
	eventually(t, 500, "talking", func() bool { return hasTone(heard(ph.rtp.packets()), toneCaller) })
	tn := ph.contact.Load().(string)
	d := <-ph.sessions
	require.NoError(t, e.q.End(context.Background(), "1001", tn))
	eventually(t, 300, "the caller gets BYE", func() bool { return c.byes.Load() > 0 })
	eventually(t, 300, "the phone's dialog ends", func() bool { return d.Context().Err() != nil })
	ct, err := e.q.Contact(context.Background(), tn)
	require.NoError(t, err)
	require.Equal(t, queue.StateWrapUp, ct.State)
}

// A hang-up the node cannot record at once (Redis is restarting) is
// recorded when Redis is back: the contact waits for wrap-up and its agent
// is not left busy on voice for good, as after a hang-up that was tried once
// and given up.
func TestHangupRecordedOnceRedisIsBack(t *testing.T) {
	rs := queuetest.RedisServerWith(t, "--appendonly", "yes", "--appendfsync", "always")
	e := newEnvOn(t, rs, "node-a")
	ph := newPhone(t, e, "1001", 0)
	e.seat("1001")
	c := dial(t, e, "12345", "13800138606", media.PCMU)
	eventually(t, 500, "talking", func() bool { return hasTone(heard(ph.rtp.packets()), toneCaller) })
	tn := ph.contact.Load().(string)
	rs.Kill()
	c.hangup(t)
	time.Sleep(4 * time.Second) // the node tries to record it meanwhile, and fails
	rs.Restart(t)
	ctx := context.Background()
	eventually(t, 1500, "the hang-up recorded", func() bool {
		ct, err := e.q.Contact(ctx, tn)
		return err == nil && ct.State == queue.StateWrapUp
	})
	st, err := e.q.Status(ctx, "1001")
	require.NoError(t, err)
	require.Equal(t, queue.AgentWrapUp, st.State, "the agent is in wrap-up, free of the call")
}
