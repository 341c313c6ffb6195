package sip

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/linkage"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// agentPhone starts baresip as agent's phone (auto-answer) registered with
// the gateway, and seats the agent ready.
func agentPhone(ctx context.Context, t *testing.T, e *env, agent string) *siptest.BaresipPhone {
	t.Helper()
	ph := siptest.Baresip(t, siptest.BaresipOptions{SIPAddr: e.s.Addr().String(), User: agent, Password: "demo",
		AutoAnswer: true})
	require.NoError(t, ph.WaitRegistered(ctx))
	eventually(t, 500, "agent "+agent+"'s phone registered", func() bool {
		until, err := e.q.Phone(ctx, agent)
		return err == nil && !until.IsZero()
	})
	return ph
}

// callerHears waits until the last half second of what the Go caller
// received holds a tone of hz (by content: the talk reached it).
func callerHears(ctx context.Context, t *testing.T, call *siptest.GoCall, hz float64, what string) {
	t.Helper()
	require.NoError(t, call.Rec.WaitFor(ctx, func(p []siptest.RTPPacket) bool {
		a := siptest.DecodeG711(p)
		return len(a) > 8000 && siptest.HasTone(a[len(a)-4000:], hz)
	}), what)
}

// heldBy waits until contact tn is in talk with agent.
func heldBy(t *testing.T, e *env, tn, agent string) {
	t.Helper()
	eventually(t, 1500, tn+" held by "+agent, func() bool {
		c, err := e.q.Contact(context.Background(), tn)
		return err == nil && c.State == queue.StateAssigned && c.Agent == agent
	})
}

// transferring is where every transfer test starts: a sipp caller (number,
// holding the call for holdMs) in talk with agent 1001's baresip phone, and
// agent 1002's phone registered and ready to be rung.
func transferring(ctx context.Context, t *testing.T, e *env, holdMs, number string) (p1, p2 *siptest.BaresipPhone,
	caller *siptest.SippRun, ct *queue.Contact) {
	t.Helper()
	p1 = agentPhone(ctx, t, e, "1001")
	p2 = agentPhone(ctx, t, e, "1002")
	e.seat("1001")
	caller = siptest.Sipp(t, siptest.SippOptions{Scenario: "caller.xml", Target: e.s.Addr().String(), Service: "12345",
		Vars: map[string]string{"hold_ms": holdMs, "caller": number}})
	ct = contactOf(t, e, "+86"+number)
	heldBy(t, e, ct.TrackingNo, "1001")
	_, err := p1.WaitEvent(ctx, "CALL_ESTABLISHED", 0)
	require.NoError(t, err)
	e.seat("1002")
	return p1, p2, caller, ct
}

// putPhoneDown hangs phone up, waits until the gateway has taken its BYE,
// and leaves the call's loop a moment to take the hang-up. It runs as a
// test hook on the node's goroutines, so it asserts, not requires.
func putPhoneDown(ctx context.Context, t *testing.T, phone *siptest.BaresipPhone) {
	assert.NoError(t, phone.Hangup(ctx))
	_, err := phone.WaitEvent(ctx, "CALL_CLOSED", 0)
	assert.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
}

// beside120 is a call from number in talk with agent 1001's baresip phone,
// on a node whose line 120 is a sipp UAS that echoes what it hears (reached
// through the trunk).
func beside120(ctx context.Context, t *testing.T, number string) (e *env, phone *siptest.BaresipPhone,
	call *siptest.GoCall, ct *queue.Contact, uas *siptest.SippRun) {
	t.Helper()
	uas = siptest.Sipp(t, siptest.SippOptions{Scenario: "agent-phone.xml", Vars: map[string]string{"play": "0"},
		RTPEcho: true, AutoAnswer: true, Calls: 1})
	e = newEnv(t, func(c *Config) {
		c.Trunk.Proxy = uas.Addr()
		c.Transfer.Targets = map[string]linkage.Target{"120": {URI: "sip:120@120.emergency.invalid"}}
	})
	phone = agentPhone(ctx, t, e, "1001")
	e.seat("1001")
	call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: e.s.Addr().String(), From: number})
	require.NoError(t, err)
	ct = contactOf(t, e, "+86"+number)
	heldBy(t, e, ct.TrackingNo, "1001")
	callerHears(ctx, t, call, siptest.AgentToneHz, "the caller talks to the agent")
	return e, phone, call, ct, uas
}

// hangUpWith120 waits for contact ct to close transferred_120, then the
// caller, talking to 120 (beside120), hangs up: 120's call ends cleanly
// and no call is left.
func hangUpWith120(ctx context.Context, t *testing.T, e *env, call *siptest.GoCall, ct *queue.Contact,
	uas *siptest.SippRun) {
	t.Helper()
	eventually(t, 1500, "closed transferred_120", func() bool {
		c, err := e.q.Contact(ctx, ct.TrackingNo)
		return err == nil && c.Outcome == queue.OutcomeTransfer120
	})
	require.NoError(t, call.Hangup(ctx))
	res, err := uas.Wait()
	require.NoError(t, err)
	require.Equal(t, 1, res.Successful, "120's call ended cleanly: %s", res.Errors)
	eventually(t, 500, "no call left", func() bool { return e.s.Calls() == 0 })
}

// nextAgentHeardTheCaller: the sipp caller's call went through to its
// end (not cut off), and the phone it was transferred to heard it (the
// caller's tone on its recording).
func nextAgentHeardTheCaller(ctx context.Context, t *testing.T, caller *siptest.SippRun, next *siptest.BaresipPhone) {
	t.Helper()
	res, err := caller.Wait()
	require.NoError(t, err)
	require.Equal(t, 1, res.Successful, "sipp: the caller's call: %s", res.Errors)
	_, err = next.WaitEvent(ctx, "CALL_CLOSED", 0)
	require.NoError(t, err)
	heard, err := next.Recording()
	require.NoError(t, err)
	require.True(t, siptest.HasTone(heard, siptest.CallerToneHz), "the next agent hears the caller: ratio %.2f",
		siptest.Tone(heard, siptest.CallerToneHz))
}

// TestTransferToAQueueRingsTheNextAgent: a sipp caller talks to agent
// 1001's baresip phone; 1001 transfers the call to the consumer queue with
// a note. 1001's phone is hung up, the caller waits again (priority
// raised), agent 1002's baresip phone is rung, answers, and hears the
// caller's tone.
func TestTransferToAQueueRingsTheNextAgent(t *testing.T) {
	siptest.RequireTools(t, "sipp", "baresip")
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p1, p2, caller, ct := transferring(ctx, t, e, "14000", "13800138601")

	require.NoError(t, e.q.Transfer(ctx, "1001", ct.TrackingNo, queue.TransferTo{Queue: "consumer",
		Note: "商品质量问题，转市场监管", Boost: 2}))
	_, err := p1.WaitEvent(ctx, "CALL_CLOSED", 0)
	require.NoError(t, err, "the first agent's phone is hung up")
	heldBy(t, e, ct.TrackingNo, "1002")
	c, err := e.q.Contact(ctx, ct.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, "consumer", c.Queue)
	require.Equal(t, 3, c.Priority, "the consumer queue's 1, raised by 2")
	require.Equal(t, "商品质量问题，转市场监管", c.TransferNote)
	nextAgentHeardTheCaller(ctx, t, caller, p2)
}

// TestTransferThenThePhonePutDown: agent 1001 transfers the call to the
// consumer queue at the desk and puts the phone down at once, before the
// call's node has read the transferred event (its feed held back, as in a
// surge). The caller is not cut off: it waits again, agent 1002's phone
// rings, answers and hears the caller, and the caller's call ends as the
// caller ends it.
func TestTransferThenThePhonePutDown(t *testing.T) {
	siptest.RequireTools(t, "sipp", "baresip")
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p1, p2, caller, ct := transferring(ctx, t, e, "14000", "13800138611")
	putDown := func(ev queue.Event) { // before the event reaches the call
		if ev.Type == queue.EventTransferred && ev.TrackingNo == ct.TrackingNo {
			putPhoneDown(ctx, t, p1)
		}
	}
	e.s.beforeCallEvent.Store(&putDown)

	require.NoError(t, e.q.Transfer(ctx, "1001", ct.TrackingNo, queue.TransferTo{Queue: "consumer", Boost: 2}))
	heldBy(t, e, ct.TrackingNo, "1002")
	nextAgentHeardTheCaller(ctx, t, caller, p2)
	c, err := e.q.Contact(ctx, ct.TrackingNo)
	require.NoError(t, err)
	require.NotEqual(t, queue.OutcomeAbandoned, c.Outcome)
	require.Equal(t, "1002", c.Agent)
}

// lineHook is an emergency line's webhook: it checks each push's signature,
// answers the first with 500 and the rest with 200, and keeps them.
type lineHook struct {
	secret string
	mu     sync.Mutex
	pushes []linkage.Push
	bad    []string
}

func (h *lineHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := linkage.Verify(r.Header, []byte(h.secret), body, time.Now(), time.Minute); err != nil {
		h.bad = append(h.bad, err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var p linkage.Push
	if err := json.Unmarshal(body, &p); err != nil {
		h.bad = append(h.bad, err.Error())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.pushes = append(h.pushes, p)
	if len(h.pushes) == 1 {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *lineHook) got() ([]linkage.Push, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]linkage.Push(nil), h.pushes...), append([]string(nil), h.bad...)
}

// TestTransferTo120 is the one-key transfer: a caller talks to agent 1001's
// baresip phone; the desk asks the call's node (command stream) to transfer
// it to 120, blind. The gateway calls 120 (a sipp UAS echoing what it
// hears) through the outbound trunk, drops the agent's phone and bridges
// the caller to 120: the caller hears its own tone come back from 120, so
// 120 receives the caller's audio. The contact closes transferred_120 and
// its data reaches 120's webhook, signed, after one 500 and a retry; the
// delivery shows on the contact.
func TestTransferTo120(t *testing.T) {
	siptest.RequireTools(t, "sipp", "baresip")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	uas := siptest.Sipp(t, siptest.SippOptions{Scenario: "agent-phone.xml", Vars: map[string]string{"play": "0"},
		RTPEcho: true, AutoAnswer: true, Calls: 1})
	hook := &lineHook{secret: "secret-shared-with-120"}
	web := httptest.NewServer(hook)
	defer web.Close()
	target := "sip:120@120.emergency.invalid"
	targets := map[string]linkage.Target{"120": {URI: target, Webhook: web.URL, Secret: hook.secret}}
	e := newEnvWith(t, queuetest.RedisServer(t), "node-a", func(p *Params) {
		p.Pushes = linkage.NewPusher(p.Queue, targets, zaptest.NewLogger(t).Named("push"),
			linkage.WithRetry(200*time.Millisecond, time.Second))
		pctx, pcancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = p.Pushes.Run(pctx) }()
		t.Cleanup(func() { pcancel(); <-done })
	}, func(c *Config) {
		c.Trunk.Proxy = uas.Addr() // the trunk: 120's host is reached through it
		c.Transfer.Targets = targets
	})
	agent := agentPhone(ctx, t, e, "1001")
	e.seat("1001")

	call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: e.s.Addr().String(), Number: "12345",
		From: "13900139601"})
	require.NoError(t, err)
	ct := contactOf(t, e, "+8613900139601")
	heldBy(t, e, ct.TrackingNo, "1001")
	callerHears(ctx, t, call, siptest.AgentToneHz, "the caller talks to the agent")

	require.NoError(t, e.q.SendCommand(ctx, "node-a", queue.Command{Type: CommandTransfer, TrackingNo: ct.TrackingNo,
		Agent: "1001", Args: map[string]string{"to": "120", "mode": "blind", "note": "老人在家摔倒，意识不清"}}))
	_, err = agent.WaitEvent(ctx, "CALL_CLOSED", 0)
	require.NoError(t, err, "the agent's phone is hung up")
	callerHears(ctx, t, call, siptest.CallerToneHz, "the caller's own audio comes back from 120: 120 hears the caller")

	eventually(t, 1500, "the push acknowledged", func() bool {
		c, err := e.q.Contact(ctx, ct.TrackingNo)
		return err == nil && c.Transfer != nil && c.Transfer.Status == queue.TransferDelivered
	})
	c, err := e.q.Contact(ctx, ct.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, queue.StateClosed, c.State)
	require.Equal(t, queue.OutcomeTransfer120, c.Outcome)
	require.Equal(t, "老人在家摔倒，意识不清", c.Note)
	require.Equal(t, []queue.LineStep{
		{To: "120", Mode: "blind", State: queue.LineCalling},
		{To: "120", Mode: "blind", State: queue.LineConnected},
	}, lineSteps(ctx, t, e, "1001", ct.TrackingNo), "the agent is told 120 was called, then answered")
	require.Equal(t, 1.0, testutil.ToFloat64(e.s.metrics.lineTransfers.WithLabelValues("120", queue.LineConnected)))
	require.Empty(t, lineAlerts(ctx, t, e, ct.TrackingNo), "120 took the call: nothing for the supervisors")
	require.Equal(t, &queue.TransferInfo{To: "120", Status: queue.TransferDelivered, Target: target, Tries: 2}, c.Transfer)
	pushes, bad := hook.got()
	require.Empty(t, bad, "every push signed right")
	require.Len(t, pushes, 2, "500 first, then acknowledged")
	p := pushes[1]
	require.Equal(t, ct.TrackingNo+":120", p.ID)
	require.Equal(t, "+8613900139601", p.Caller)
	require.Equal(t, "12345", p.Line)
	require.Equal(t, "老人在家摔倒，意识不清", p.Note)
	require.Equal(t, target, p.Target)

	// The caller stays with 120 after the contact closed, then hangs up:
	// 120's leg is hung up too.
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, call.Hangup(ctx))
	res, err := uas.Wait()
	require.NoError(t, err)
	require.Equal(t, 1, res.Successful, "120's call ended cleanly: %s", res.Errors)
	eventually(t, 500, "no call left", func() bool { return e.s.Calls() == 0 })
}

// TestLineTransferThenThePhonePutDown: agent 1001 asks at the desk for a
// warm transfer to 120 and puts the phone down at once: while the command
// waits in the call's node's command stream (held back, at the stream's
// head or behind a longer backlog than one read brings), or once the node
// has taken it but before the transfer begins. The caller is not cut off:
// it hears hold audio, then 120 (a sipp UAS that echoes) is called, blind
// since the agent is gone, and the caller hears its own audio come back.
func TestLineTransferThenThePhonePutDown(t *testing.T) {
	siptest.RequireTools(t, "sipp", "baresip")
	for i, when := range []string{"asked", "behind", "taken"} {
		t.Run(when, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			e, agent, call, ct, uas := beside120(ctx, t, fmt.Sprintf("1390013981%d", i))
			// The phone put down, the caller hears hold audio, not the
			// silence of a phone that is gone, until the transfer goes on.
			putDown := func() {
				putPhoneDown(ctx, t, agent)
				assert.NoError(t, call.Rec.WaitFor(ctx, func(p []siptest.RTPPacket) bool {
					a := siptest.DecodeG711(p)
					return len(a) > 1600 && siptest.HasTone(a[len(a)-1600:], toneHold)
				}), "the caller hears hold audio")
			}
			sent := make(chan struct{}) // the transfer is in the stream
			switch when {
			case "asked":
				onCommand := func(cmd queue.Command) {
					if cmd.Type == CommandTransfer {
						putDown()
					}
				}
				e.s.beforeCommand.Store(&onCommand)
			case "behind":
				// The transfer waits behind 150 commands of other calls,
				// more than one read of the stream's backlog brings.
				onCommand := func(cmd queue.Command) {
					if cmd.TrackingNo == "gone-0" {
						<-sent
						putDown()
					}
				}
				e.s.beforeCommand.Store(&onCommand)
				for k := range 150 {
					require.NoError(t, e.q.SendCommand(ctx, "node-a", queue.Command{Type: CommandReattach,
						TrackingNo: fmt.Sprintf("gone-%d", k), Agent: "1009"}))
				}
			default:
				e.s.beforeTransferOut.Store(&putDown)
			}

			require.NoError(t, e.q.SendCommand(ctx, "node-a", queue.Command{Type: CommandTransfer,
				TrackingNo: ct.TrackingNo, Agent: "1001", Args: map[string]string{"to": "120", "mode": "warm"}}))
			close(sent)
			callerHears(ctx, t, call, siptest.CallerToneHz, "the caller's own audio comes back from 120: not cut off")
			require.Equal(t, []queue.LineStep{
				{To: "120", Mode: "blind", State: queue.LineCalling},
				{To: "120", Mode: "blind", State: queue.LineConnected},
			}, lineSteps(ctx, t, e, "1001", ct.TrackingNo), "blind: the agent had gone")
			hangUpWith120(ctx, t, e, call, ct, uas)
		})
	}
}

// TestTransferToALineThatIsBusy: 120 (a sipp UAS) answers 486. A warm
// transfer leaves the agent talking to the caller; a blind one puts the
// caller back in the queue, priority raised, with a note saying so.
func TestTransferToALineThatIsBusy(t *testing.T) {
	siptest.RequireTools(t, "sipp", "baresip")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	busy := siptest.Sipp(t, siptest.SippOptions{Scenario: "citizen-busy.xml", AutoAnswer: true, Calls: 2, Trace: true})
	e := newEnv(t, func(c *Config) {
		c.Trunk.Proxy = busy.Addr()
		c.Transfer.Targets = map[string]linkage.Target{"120": {URI: "sip:120@120.emergency.invalid"}}
	})
	// The call's loop is slow to bridge the agent who answered: the
	// warm transfer, asked as soon as the queue has the contact as the
	// agent's, waits for the bridge (CI saw it dropped 1 ms before it).
	e.s.beforeBridge = func() { time.Sleep(100 * time.Millisecond) }
	// And the agent's leg is slow to reach the call's loop once the queue
	// has the answer (CI saw the transfer dropped so, when the leg was marked
	// up only then: cmd/lianxin's TestOneKeyTransferAcrossNodes).
	e.s.afterAnswer = func() { time.Sleep(200 * time.Millisecond) }
	agent := agentPhone(ctx, t, e, "1001")
	e.seat("1001")
	call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: e.s.Addr().String(), From: "13900139701"})
	require.NoError(t, err)
	ct := contactOf(t, e, "+8613900139701")
	heldBy(t, e, ct.TrackingNo, "1001")

	send := func(mode string) {
		require.NoError(t, e.q.SendCommand(ctx, "node-a", queue.Command{Type: CommandTransfer, TrackingNo: ct.TrackingNo,
			Agent: "1001", Args: map[string]string{"to": "120", "mode": mode, "note": "胸痛"}}))
	}
	send("warm")
	eventually(t, 1500, "120 tried once and the attempt over", func() bool {
		if busyTries(busy) < 1 {
			return false
		}
		for _, cl := range e.s.liveCalls() {
			if cl.trackingNo() == ct.TrackingNo {
				return !cl.xfer.busy.Load()
			}
		}
		return false
	})
	callerHears(ctx, t, call, siptest.AgentToneHz, "warm: the caller still talks to the agent")
	require.Equal(t, []queue.LineStep{
		{To: "120", Mode: "warm", State: queue.LineCalling},
		{To: "120", Mode: "warm", State: queue.LineFailed, Reason: LineBusy},
	}, lineSteps(ctx, t, e, "1001", ct.TrackingNo), "the agent is told 120 was called, and was busy")
	c, err := e.q.Contact(ctx, ct.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, queue.StateAssigned, c.State)
	require.Nil(t, c.Transfer)

	send("blind")
	_, err = agent.WaitEvent(ctx, "CALL_CLOSED", 0)
	require.NoError(t, err, "blind: the agent's phone is hung up at once")
	eventually(t, 1500, "back in the queue", func() bool {
		c, err := e.q.Contact(ctx, ct.TrackingNo)
		return err == nil && c.TransferNote != "" && c.State != queue.StateAssigned
	})
	c, err = e.q.Contact(ctx, ct.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, "转120未接通。胸痛", c.TransferNote)
	require.Equal(t, 2, c.Priority)
	require.Equal(t, []queue.LineStep{
		{To: "120", Mode: "warm", State: queue.LineCalling},
		{To: "120", Mode: "warm", State: queue.LineFailed, Reason: LineBusy},
		{To: "120", Mode: "blind", State: queue.LineCalling},
		{To: "120", Mode: "blind", State: queue.LineFailed, Reason: LineBusy},
	}, lineSteps(ctx, t, e, "1001", ct.TrackingNo))

	// Asked again of a call no longer in talk with the agent: refused, and
	// the agent is told why.
	send("blind")
	eventually(t, 1500, "the refusal told", func() bool { return len(lineSteps(ctx, t, e, "1001", ct.TrackingNo)) == 5 })
	require.Equal(t, queue.LineStep{To: "120", Mode: "blind", State: queue.LineRefused, Reason: LineNotInTalk},
		lineSteps(ctx, t, e, "1001", ct.TrackingNo)[4])
	require.Equal(t, 2, busyTries(busy), "120 was not called again")
	require.Equal(t, 2.0, testutil.ToFloat64(e.s.metrics.lineTransfers.WithLabelValues("120", LineBusy)))
	require.Equal(t, []string{"转120未接通（对方占线）：坐席 1001 仍在与来电人通话",
		"转120未接通（对方占线）：来电已回到队列优先等待（坐席 1001 转出）"}, lineAlerts(ctx, t, e, ct.TrackingNo),
		"the supervisors are told 120 did not take the call, each time")
	require.Equal(t, 1.0, testutil.ToFloat64(e.s.metrics.lineTransfers.WithLabelValues("120", LineNotInTalk)))
	require.NoError(t, call.Hangup(ctx))
	res, err := busy.Wait()
	require.NoError(t, err)
	require.Equal(t, 2, res.Successful, "%s", res.Errors)
}

// lineSteps are the steps of line transfers the agent was told of, for
// contact tn, in order (from the event stream).
func lineSteps(ctx context.Context, t *testing.T, e *env, agent, tn string) []queue.LineStep {
	t.Helper()
	last, err := e.q.EventsPosition(ctx)
	require.NoError(t, err)
	var steps []queue.LineStep
	require.NoError(t, e.q.EventsBetween(ctx, "0", last, func(ev queue.Event) {
		if ev.Type == queue.EventLineTransfer && ev.Agent == agent && ev.TrackingNo == tn {
			require.NotNil(t, ev.Line)
			steps = append(steps, *ev.Line)
		}
	}))
	return steps
}

// lineAlerts are the texts of the supervisors' alerts that a line did not
// take contact tn, in order.
func lineAlerts(ctx context.Context, t *testing.T, e *env, tn string) []string {
	t.Helper()
	last, err := e.q.EventsPosition(ctx)
	require.NoError(t, err)
	var out []string
	require.NoError(t, e.q.EventsBetween(ctx, "0", last, func(ev queue.Event) {
		if ev.Type == queue.EventAlert && ev.Reason == AlertLineFailed && ev.TrackingNo == tn {
			out = append(out, ev.Text)
		}
	}))
	return out
}

// busyTries counts the calls the busy UAS has seen so far.
func busyTries(r *siptest.SippRun) int {
	n := 0
	for _, l := range strings.Split(r.Messages(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "INVITE sip:") {
			n++
		}
	}
	return n
}
