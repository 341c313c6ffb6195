package sip

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// TestReferFromTheAgentsPhone: agent 1001's baresip phone, in talk with a
// sipp caller, transfers the call with its own transfer key (REFER,
// Refer-To sip:consumer@gateway): the call goes to the consumer queue and
// agent 1002's baresip phone is rung, answers and hears the caller.
func TestReferFromTheAgentsPhone(t *testing.T) {
	siptest.RequireTools(t, "sipp", "baresip")
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p1, p2, caller, ct := transferring(ctx, t, e, "12000", "13800138901")

	_, err := p1.Command(ctx, "transfer", fmt.Sprintf("sip:consumer@%s", e.s.Addr()))
	require.NoError(t, err)
	heldBy(t, e, ct.TrackingNo, "1002")
	c, err := e.q.Contact(ctx, ct.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, "consumer", c.Queue)
	require.Equal(t, "1001", c.TransferredBy)
	_, err = p1.WaitEvent(ctx, "CALL_CLOSED", 0)
	require.NoError(t, err, "the transferring phone's call ends")
	nextAgentHeardTheCaller(ctx, t, caller, p2)
	require.Equal(t, queue.StateWrapUp, func() queue.ContactState {
		c, _ := e.q.Contact(ctx, ct.TrackingNo)
		return c.State
	}())
}

// TestReferToALineFromAPhoneThatHangsUpAtOnce: agent 1001's baresip phone,
// in talk with a caller, transfers the call to 120 with its own transfer key
// (REFER, Refer-To sip:120@gateway) and hangs up as soon as the REFER is
// accepted, before the transfer is done (RFC 3515 lets a phone leave after
// the 202). The caller is not cut off: 120 (a sipp UAS that echoes) is
// called and the caller hears its own audio come back from it.
func TestReferToALineFromAPhoneThatHangsUpAtOnce(t *testing.T) {
	siptest.RequireTools(t, "sipp", "baresip")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e, agent, call, ct, uas := beside120(ctx, t, "13900139801")
	hangUp := func() { putPhoneDown(ctx, t, agent) } // before the transfer is done
	e.s.beforeRefer.Store(&hangUp)

	_, err := agent.Command(ctx, "transfer", fmt.Sprintf("sip:120@%s", e.s.Addr()))
	require.NoError(t, err)
	callerHears(ctx, t, call, siptest.CallerToneHz, "the caller's own audio comes back from 120: not cut off")
	require.Equal(t, []queue.LineStep{
		{To: "120", Mode: "blind", State: queue.LineCalling},
		{To: "120", Mode: "blind", State: queue.LineConnected},
	}, lineSteps(ctx, t, e, "1001", ct.TrackingNo))
	hangUpWith120(ctx, t, e, call, ct, uas)
}

// FuzzParseReferTo: no Refer-To makes the parser panic; what it accepts is
// a plain user part.
func FuzzParseReferTo(f *testing.F) {
	for _, s := range []string{
		"<sip:120@127.0.0.1:5060>", "sip:consumer@gw", `"Agent" <sip:1002@10.0.0.1;transport=udp>`,
		"<sip:1002@gw?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>", "<sip:1002@gw;method=BYE>", "<tel:120>",
		"<sip:@gw>", "", "<", "<sip:a b@gw>", "sips:110@gw", "<sip:120@gw>;foo=bar", "\x00", "<sip:" + string(make([]byte, 2000)) + ">",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		user, err := ParseReferTo(s)
		if err != nil {
			require.ErrorIs(t, err, ErrBadReferTo)
			return
		}
		require.NotEmpty(t, user)
		require.NotContains(t, user, "@")
		require.LessOrEqual(t, len(user), 64)
	})
}
