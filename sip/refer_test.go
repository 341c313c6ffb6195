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
	res, err := caller.Wait()
	require.NoError(t, err)
	require.Equal(t, 1, res.Successful, "sipp: %s", res.Errors)
	_, err = p2.WaitEvent(ctx, "CALL_CLOSED", 0)
	require.NoError(t, err)
	heard, err := p2.Recording()
	require.NoError(t, err)
	require.True(t, siptest.HasTone(heard, siptest.CallerToneHz), "agent 1002 hears the caller")
	require.Equal(t, queue.StateWrapUp, func() queue.ContactState {
		c, _ := e.q.Contact(ctx, ct.TrackingNo)
		return c.State
	}())
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
