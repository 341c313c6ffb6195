package sip

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// TestReconcileHandlesACallWhoseEndWasNeverRecorded: Redis holds contacts
// of this node's calls that the node no longer holds (its answer and a
// caller's queueing were written, the call's end never was: Redis away, a
// reply lost). The second pass that finds them so handles them as a dead
// node's calls: the one in the welcome and the one waiting become callback
// contacts (called back on the caller's number), out of the node's calls; the first
// pass only suspects them (a call being set up is not taken for lost).
func TestReconcileHandlesACallWhoseEndWasNeverRecorded(t *testing.T) {
	ctx := context.Background()
	e := newEnvWith(t, queuetest.RedisServer(t), "node-a", nil)
	waitServing(t, e) // its start's RecoverCalls is over
	intake := func(phone string) queue.Intake {
		return queue.Intake{Channel: queue.ChannelVoice, Line: "12345", LineName: testLines["12345"].Name,
			Citizen: queue.Citizen{Address: phone, Phone: phone}, Subject: "来电", Queue: "general", ReceivedAt: time.Now()}
	}
	inWelcome, err := e.q.AnswerCall(ctx, intake("+8613800138711"), queue.Call{ID: "gone-1@test", Node: "node-a"})
	require.NoError(t, err)
	waiting, err := e.q.EnqueueCall(ctx, intake("+8613800138712"), queue.Call{ID: "gone-2@test", Node: "node-a"})
	require.NoError(t, err)

	suspects := e.s.reconcile(ctx, map[string]bool{})
	require.Equal(t, map[string]bool{inWelcome.TrackingNo: true, waiting.TrackingNo: true}, suspects)
	ct, err := e.q.Contact(ctx, inWelcome.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, queue.StateIVR, ct.State, "one pass only suspects")

	require.Empty(t, e.s.reconcile(ctx, suspects))
	for _, r := range []queue.Receipt{inWelcome, waiting} {
		ct, err := e.q.Contact(ctx, r.TrackingNo)
		require.NoError(t, err)
		require.Equal(t, queue.StateWaiting, ct.State, r.TrackingNo)
		require.True(t, ct.Callback, "%s is a callback", r.TrackingNo)
	}
	calls, err := e.q.Calls(ctx, "node-a")
	require.NoError(t, err)
	require.Empty(t, calls)
	require.Empty(t, e.s.reconcile(ctx, map[string]bool{}), "nothing left to suspect")
}

// TestReconcileFindsTheContactOfALiveCall: a call whose answer was written
// to Redis but whose reply the node never had (the call has no contact in
// the node) is given its contact by a pass; the caller then hangs up in
// the welcome and the contact is dropped as for any such caller. Without
// the pass the hang-up had no contact to record and the contact stayed in
// the welcome's state for good.
func TestReconcileFindsTheContactOfALiveCall(t *testing.T) {
	siptest.RequireTools(t, "sipp")
	ctx := context.Background()
	e := newEnvWith(t, queuetest.RedisServer(t), "node-a", longWelcome)
	run := siptest.Sipp(t, siptest.SippOptions{Scenario: "caller.xml", Target: e.s.Addr().String(), Service: "12345",
		Vars: map[string]string{"hold_ms": "4000", "caller": "13800138713"}})
	ct := contactOf(t, e, "+8613800138713")
	var c *call
	eventually(t, 300, "the node holds the call's contact", func() bool {
		e.s.mu.Lock()
		defer e.s.mu.Unlock()
		c = e.s.byTN[ct.TrackingNo]
		return c != nil
	})
	// The reply of the answer's write lost: the node knows no contact.
	e.s.mu.Lock()
	delete(e.s.byTN, ct.TrackingNo)
	e.s.mu.Unlock()
	c.mu.Lock()
	c.tn = ""
	c.mu.Unlock()

	require.Empty(t, e.s.reconcile(ctx, map[string]bool{}), "a live call is not suspected")
	require.Equal(t, ct.TrackingNo, c.trackingNo(), "the call has its contact again")
	res, err := run.Wait()
	require.NoError(t, err)
	require.Equal(t, 1, res.Successful, "%s", res.Errors)
	eventually(t, 300, "the contact is dropped", func() bool {
		_, err := e.q.Contact(ctx, ct.TrackingNo)
		return err != nil
	})
	calls, err := e.q.Calls(ctx, "node-a")
	require.NoError(t, err)
	require.Empty(t, calls)
}

// waitServing waits until e's node answers an OPTIONS over UDP: it serves
// SIP only once its start's RecoverCalls is over.
func waitServing(t *testing.T, e *env) {
	t.Helper()
	addr := e.s.Addr().String()
	eventually(t, 500, "the node answers OPTIONS", func() bool {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return false
		}
		defer c.Close()
		_, err = fmt.Fprintf(c, "OPTIONS sip:12345@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-ready%d\r\n"+
			"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:12345@%s>\r\n"+
			"Call-ID: ready-%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
			addr, c.LocalAddr(), time.Now().UnixNano(), addr, time.Now().UnixNano())
		if err != nil {
			return false
		}
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		line, err := bufio.NewReader(c).ReadString('\n')
		return err == nil && strings.HasPrefix(line, "SIP/2.0 ")
	})
}
