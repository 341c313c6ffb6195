package sip

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// These tests place calls with sipp, the real SIP peer of
// testdata/sipp/*.xml (Debian sip-tester), against a gateway on a real
// redis-server.

func sipp(t *testing.T, e *env, scenario, number string, vars map[string]string) siptest.SippResult {
	t.Helper()
	r := siptest.Sipp(t, siptest.SippOptions{Scenario: scenario, Target: e.s.Addr().String(), Service: number, Vars: vars})
	res, err := r.Wait()
	require.NoError(t, err, "sipp %s: %s", scenario, res.Errors)
	require.Equal(t, 1, res.Successful, "sipp %s: %s\n%s", scenario, res.Errors, res.Screen)
	return res
}

// contactOf finds the call's contact by the caller's number.
func contactOf(t *testing.T, e *env, phone string) *queue.Contact {
	t.Helper()
	var found *queue.Contact
	eventually(t, 300, "the call's contact", func() bool {
		tns, err := e.redis.Client(t).Keys(context.Background(), "{lianxin}:c:*").Result()
		if err != nil {
			return false
		}
		for _, k := range tns {
			ct, err := e.q.Contact(context.Background(), k[len("{lianxin}:c:"):])
			if err == nil && ct.Citizen.Phone == phone {
				found = ct
				return true
			}
		}
		return false
	})
	return found
}

// TestSippCallers: sipp callers to 12345 and to a merged number, with RTP,
// are answered, queued on their line's queue, and end abandoned when they
// hang up with nobody free; the gateway received their audio.
func TestSippCallers(t *testing.T) {
	siptest.RequireTools(t, "sipp")
	e := newEnv(t)
	for _, tc := range []struct{ number, caller, queue string }{
		{"12345", "13800138101", "general"},
		{"12315", "13800138102", "consumer"},
	} {
		t.Run(tc.number, func(t *testing.T) {
			before := e.s.rtpNow()[legCaller][0]
			sipp(t, e, "caller.xml", tc.number, map[string]string{"hold_ms": "1500", "caller": tc.caller})
			ct := contactOf(t, e, "+86"+tc.caller)
			require.Equal(t, queue.ChannelVoice, ct.Channel)
			require.Equal(t, tc.number, ct.Line)
			require.Equal(t, tc.queue, ct.Queue)
			eventually(t, 300, "abandoned", func() bool {
				got, err := e.q.Contact(context.Background(), ct.TrackingNo)
				return err == nil && got.Outcome == queue.OutcomeAbandoned
			})
			require.Greater(t, e.s.rtpNow()[legCaller][0]-before, uint64(20), "the caller's RTP arrived")
		})
	}
}

// TestSippMenuDigit: a sipp caller presses 2 by RFC 4733 during the menu
// and waits in the consumer queue — with the project's pcaps and with
// sipp's stock ones, whose first packet has duration 0.
func TestSippMenuDigit(t *testing.T) {
	siptest.RequireTools(t, "sipp")
	e := newEnv(t, withMenu)
	for _, tc := range []struct{ scenario, caller string }{
		{"caller-dtmf.xml", "13800138201"},
		{"caller-dtmf-stock.xml", "13800138202"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			sipp(t, e, tc.scenario, "12345", map[string]string{"digit": "2", "before_ms": "800", "hold_ms": "1500",
				"caller": tc.caller})
			require.Equal(t, "consumer", contactOf(t, e, "+86"+tc.caller).Queue)
		})
	}
}

// TestSippAbandon: a sipp caller hangs up while waiting; the contact ends
// abandoned and an agent who becomes ready afterwards is never rung for it.
func TestSippAbandon(t *testing.T) {
	siptest.RequireTools(t, "sipp")
	e := newEnv(t)
	ph := newPhone(t, e, "1001", 0)
	sipp(t, e, "caller-abandon.xml", "12345", map[string]string{"wait_ms": "1500", "caller": "13800138301"})
	ct := contactOf(t, e, "+8613800138301")
	eventually(t, 300, "abandoned", func() bool {
		got, err := e.q.Contact(context.Background(), ct.TrackingNo)
		return err == nil && got.State == queue.StateClosed && got.Outcome == queue.OutcomeAbandoned
	})
	e.seat("1001")
	_, err := e.q.Sweep(context.Background())
	require.NoError(t, err)
	st, err := e.q.Status(context.Background(), "1001")
	require.NoError(t, err)
	require.Equal(t, queue.AgentReady, st.State, "nothing was offered to the agent")
	require.Nil(t, ph.contact.Load(), "the phone was rung for an abandoned call")
}

// TestSippCancel: a sipp caller who gives up while it rings (CANCEL) gets
// 200 and 487, and leaves no contact behind.
func TestSippCancel(t *testing.T) {
	siptest.RequireTools(t, "sipp")
	e := newEnv(t, func(c *Config) { c.Ring = 3 * time.Second })
	rdb := e.redis.Client(t)
	sipp(t, e, "caller-cancel.xml", "12345", map[string]string{"ring_ms": "300", "caller": "13800138401"})
	require.Equal(t, 1.0, testutil.ToFloat64(e.s.metrics.ended.WithLabelValues("cancelled")))
	keys, err := rdb.Keys(context.Background(), "{lianxin}:c:*").Result()
	require.NoError(t, err)
	require.Empty(t, keys, "a call cancelled while ringing is no contact")
	eventually(t, 100, "no call left", func() bool { return e.s.Calls() == 0 })
}
