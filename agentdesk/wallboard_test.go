package agentdesk

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

func (e *deskEnv) wallboard(t *testing.T) *desktest.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := desktest.DialWallboard(ctx, e.base, e.login(t, "1005"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	next(t, c, "hello")
	return c
}

// board reads wallboard pushes until ok accepts one.
func nextBoard(t *testing.T, c *desktest.Client, ok func(wallboardMsg) bool) wallboardMsg {
	t.Helper()
	for {
		m := next(t, c, "wallboard")
		var b wallboardMsg
		require.NoError(t, json.Unmarshal(m.Raw, &b))
		if ok(b) {
			return b
		}
	}
}

func nextAlerts(t *testing.T, c *desktest.Client, ok func([]Alert) bool) []Alert {
	t.Helper()
	for {
		m := next(t, c, "alerts")
		var a alertsMsg
		require.NoError(t, json.Unmarshal(m.Raw, &a))
		if ok(a.Alerts) {
			return a.Alerts
		}
	}
}

// reply sends a message and returns the ack or error answering it.
func reply(t *testing.T, c *desktest.Client, typ string, fields map[string]any) desktest.Message {
	t.Helper()
	ref, err := c.Send(typ, fields)
	require.NoError(t, err)
	for {
		m := next(t, c, "ack", "error")
		if m.Ref == ref {
			return m
		}
	}
}

func requireError(t *testing.T, m desktest.Message, code, mentions string) {
	t.Helper()
	require.Equal(t, "error", m.Type, "want error %s, got %s", code, m.Raw)
	require.Equal(t, code, m.Code, string(m.Raw))
	require.Contains(t, m.Message, mentions, string(m.Raw))
}

func status(t *testing.T, e *deskEnv, agent string) *queue.AgentStatus {
	t.Helper()
	st, err := e.q.Status(context.Background(), agent)
	require.NoError(t, err)
	return st
}

// Only supervisors open the wallboard: an agent's token gets 403 before the
// upgrade.
func TestWallboardSupervisorsOnly(t *testing.T) {
	e := startDesk(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, resp, err := desktest.DialWallboard(ctx, e.base, e.login(t, "1001"))
	require.Error(t, err)
	require.NotNil(t, resp)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	_, resp, err = desktest.DialWallboard(ctx, e.base, "not-a-token")
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	w := e.wallboard(t)
	b := nextBoard(t, w, func(wallboardMsg) bool { return true })
	require.Equal(t, "general", b.Queues[0].Name)
	// The supervisor's wallboard does not seat them as an agent.
	require.Equal(t, queue.AgentLoggedOut, status(t, e, "1005").State)
}

// A supervisor forces an agent not ready, then logs them out; bad ones
// change nothing.
func TestForceNotReadyAndLogout(t *testing.T) {
	e := startDesk(t)
	agent := e.seat(t, "1001")
	other := e.seat(t, "1002")
	w := e.wallboard(t)

	// Not a supervisor: forbidden, on the desk socket.
	requireError(t, reply(t, other, "force_not_ready", map[string]any{"agent": "1001"}), "forbidden", "supervisors only")
	requireError(t, reply(t, other, "force_logout", map[string]any{"agent": "1001"}), "forbidden", "supervisors only")
	// Bad fields and unknown agents.
	requireError(t, reply(t, w, "force_not_ready", map[string]any{}), "bad_message", "agent:")
	requireError(t, reply(t, w, "force_not_ready", map[string]any{"agent": "1001", "reason": strings.Repeat("长", 65)}),
		"bad_message", "reason:")
	requireError(t, reply(t, w, "force_not_ready", map[string]any{"agent": "9999"}), "not_found", "9999")
	requireError(t, reply(t, w, "force_logout", map[string]any{"agent": "9999"}), "not_found", "9999")
	require.Equal(t, queue.AgentReady, status(t, e, "1001").State, "nothing changed")

	m := reply(t, w, "force_not_ready", map[string]any{"agent": "1001", "reason": "meeting"})
	require.Equal(t, "ack", m.Type, string(m.Raw))
	for st := next(t, agent, "state"); st.State != "not_ready"; st = next(t, agent, "state") {
	}
	st := status(t, e, "1001")
	require.Equal(t, queue.AgentNotReady, st.State)
	require.Equal(t, "meeting", st.Reason)
	b := nextBoard(t, w, func(b wallboardMsg) bool {
		for _, a := range b.Agents {
			if a.ID == "1001" {
				return a.State == "not_ready"
			}
		}
		return false
	})
	require.Equal(t, 1, b.AgentCount["not_ready"])

	m = reply(t, w, "force_logout", map[string]any{"agent": "1001"})
	require.Equal(t, "ack", m.Type, string(m.Raw))
	_, err := agent.Next(context.Background(), "never")
	require.ErrorIs(t, err, desktest.ErrClosed)
	require.Equal(t, CloseLoggedOut, agent.CloseCode())
	require.Equal(t, queue.AgentLoggedOut, status(t, e, "1001").State)
	// 1002 was never touched.
	require.Equal(t, queue.AgentReady, status(t, e, "1002").State)
	// An agent not logged in cannot be forced.
	requireError(t, reply(t, w, "force_not_ready", map[string]any{"agent": "1001"}), "wrong_state", "not logged in")
	requireError(t, reply(t, w, "force_logout", map[string]any{"agent": "1001"}), "wrong_state", "not logged in")
}

// A forced logout revokes the agent's tokens, so neither the page nor
// another page the agent logged in on can seat the agent again.
func TestForcedLogoutRevokesTheToken(t *testing.T) {
	e := startDesk(t)
	// The agent logged in on two pages: the second took over from the first
	// (4001), whose page offers to take it back with its own token.
	first := e.login(t, "1001")
	replaced := e.dial(t, first)
	tok := e.login(t, "1001")
	agent := e.dial(t, tok)
	_, err := replaced.Next(context.Background(), "never")
	require.ErrorIs(t, err, desktest.ErrClosed)
	require.Equal(t, CloseReplaced, replaced.CloseCode())

	w := e.wallboard(t)
	require.Equal(t, "ack", reply(t, w, "force_logout", map[string]any{"agent": "1001"}).Type)
	_, err = agent.Next(context.Background(), "never")
	require.ErrorIs(t, err, desktest.ErrClosed)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tok := range []string{tok, first} {
		_, resp, err := desktest.Dial(ctx, e.base, tok)
		require.Error(t, err)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	require.Equal(t, queue.AgentLoggedOut, status(t, e, "1001").State)
}

// luhnTN makes a valid tracking number no contact has.
func luhnTN(body string) string {
	sum, double := 0, true
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return body + string(rune('0'+(10-sum%10)%10))
}

// A contact held by an agent whose desk went away is listed, and a
// supervisor sends it back to the queue, where the next agent gets it.
func TestReassignOrphanedContact(t *testing.T) {
	e := startDesk(t)
	a := e.seat(t, "1001")
	w := e.wallboard(t)
	tn := e.letter(t, "box-1", "市长信箱")
	require.Equal(t, tn, next(t, a, "offer").TrackingNo())
	require.Equal(t, "ack", reply(t, a, "accept", map[string]any{"contact": tn}).Type)

	// Bad ones first, while the agent is still online: nothing changes.
	requireError(t, reply(t, w, "reassign", map[string]any{"contact": "123"}), "bad_message", "contact:")
	unknown := luhnTN("26010199999999")
	require.True(t, queue.ValidTrackingNo(unknown))
	requireError(t, reply(t, w, "reassign", map[string]any{"contact": unknown}), "not_found", unknown)
	requireError(t, reply(t, w, "reassign", map[string]any{"contact": tn}), "wrong_state", "online")
	b := e.seat(t, "1002")
	requireError(t, reply(t, b, "reassign", map[string]any{"contact": tn}), "forbidden", "supervisors only")
	c, err := e.q.Contact(context.Background(), tn)
	require.NoError(t, err)
	require.Equal(t, queue.StateAssigned, c.State)
	require.Equal(t, "1001", c.Agent)

	// 1001's desk goes away; the contact shows among the orphans.
	require.NoError(t, a.Close())
	board := nextBoard(t, w, func(b wallboardMsg) bool { return len(b.Orphans) == 1 })
	require.Equal(t, tn, board.Orphans[0].TrackingNo)
	require.Equal(t, "1001", board.Orphans[0].Agent)

	require.Equal(t, "ack", reply(t, w, "reassign", map[string]any{"contact": tn}).Type)
	require.Equal(t, tn, next(t, b, "offer").TrackingNo(), "the next ready agent is offered it")
	nextBoard(t, w, func(b wallboardMsg) bool { return len(b.Orphans) == 0 })
	// Done once: a second reassign finds nothing held.
	requireError(t, reply(t, w, "reassign", map[string]any{"contact": tn}), "wrong_state", "not held")
}

// Alerts stay listed until acknowledged; the acknowledgement (who, when) is
// kept in Redis, so a reload sees it.
func TestAlertAcknowledge(t *testing.T) {
	e := startDesk(t)
	w := e.wallboard(t)
	agent := e.seat(t, "1001")
	tn := e.letter(t, "box-1", "市长信箱")
	ctx := context.Background()
	require.NoError(t, e.q.Alert(ctx, tn, "gas", "燃气泄漏：已告知关阀开窗"))
	require.NoError(t, e.q.Alert(ctx, "", "cluster", "2 小时内 37 件：武侯区 停水"))
	list := nextAlerts(t, w, func(a []Alert) bool { return len(a) == 2 })
	require.Equal(t, "cluster", list[0].Kind, "newest first")
	require.Equal(t, "gas", list[1].Kind)
	require.Equal(t, tn, list[1].Contact)
	require.Nil(t, list[1].AckAt)
	id := list[1].ID

	requireError(t, reply(t, w, "alert_ack", map[string]any{}), "bad_message", "id:")
	requireError(t, reply(t, w, "alert_ack", map[string]any{"id": "<b>"}), "bad_message", "id:")
	requireError(t, reply(t, w, "alert_ack", map[string]any{"id": "1-0"}), "not_found", "1-0")
	requireError(t, reply(t, agent, "alert_ack", map[string]any{"id": id}), "forbidden", "supervisors only")

	require.Equal(t, "ack", reply(t, w, "alert_ack", map[string]any{"id": id}).Type)
	list = nextAlerts(t, w, func(a []Alert) bool { return len(a) == 2 && a[1].AckAt != nil })
	require.Equal(t, "1005", list[1].AckBy)
	require.Equal(t, "agent 1005", list[1].AckName)
	require.Nil(t, list[0].AckAt, "the other alert is still open")

	// A reload (or another supervisor) gets the same list.
	again := e.wallboard(t)
	list = nextAlerts(t, again, func([]Alert) bool { return true })
	require.Len(t, list, 2)
	require.Equal(t, "1005", list[1].AckBy)
	require.NotNil(t, list[1].AckAt)

	// Redis lost the list: a node starting puts today's alerts back from
	// the stream (not acknowledged: that was in the list).
	require.NoError(t, e.rdb.Del(ctx, "{lianxin}:agentdesk:alerts").Err())
	s2 := New(Params{Queue: e.q, Redis: e.rdb, Prefix: "{lianxin}:", Agents: testAgents(t), Logger: zaptest.NewLogger(t)})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = s2.Run(rctx) }()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool { return s2.board.snapshot(time.Now()).Ready }, 30*time.Second, 20*time.Millisecond)
	back, err := s2.alerts(ctx)
	require.NoError(t, err)
	require.Len(t, back, 2)
	require.Equal(t, id, back[1].ID)
}

// Today's figures survive a restart: a new server on the same Redis
// rebuilds them from the stream.
func TestBoardRebuildsTodayFromTheStream(t *testing.T) {
	e := startDesk(t)
	a := e.seat(t, "1001")
	var tns []string
	for range 3 {
		tns = append(tns, e.letter(t, "box-1", "市长信箱"))
	}
	for range tns {
		tn := next(t, a, "offer").TrackingNo()
		require.Equal(t, "ack", reply(t, a, "accept", map[string]any{"contact": tn}).Type)
	}
	require.Equal(t, "ack", reply(t, a, "wrapup", map[string]any{"contact": tns[0], "request_type": "report",
		"outcome": "resolved"}).Type)
	w := e.wallboard(t)
	want := nextBoard(t, w, func(b wallboardMsg) bool { return b.Ready && b.Queues[0].Handled == 1 }).Queues[0]
	require.Equal(t, 3, want.Queued)
	require.Equal(t, 3, want.Answered)

	s2 := New(Params{Queue: e.q, Redis: e.rdb, Prefix: "{lianxin}:", Agents: testAgents(t), Logger: zaptest.NewLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s2.Run(ctx) }()
	defer func() { cancel(); <-done }()
	var got wallboardMsg
	require.Eventually(t, func() bool { got = s2.board.snapshot(time.Now()); return got.Ready }, 30*time.Second, 20*time.Millisecond)
	q := got.Queues[0]
	require.Equal(t, want.Queued, q.Queued)
	require.Equal(t, want.Answered, q.Answered)
	require.Equal(t, want.AnsweredIn, q.AnsweredIn)
	require.Equal(t, want.Handled, q.Handled)
	require.InDelta(t, want.AnswerWaitSum, q.AnswerWaitSum, 0.001)
	var held []string
	for _, ag := range got.Agents {
		if ag.ID == "1001" {
			require.Equal(t, "busy", ag.State)
			for _, c := range ag.Contacts {
				held = append(held, c.TrackingNo)
			}
		}
	}
	require.ElementsMatch(t, tns[1:], held)
}

// ToSupervisors reaches supervisors' wallboards and desks, not agents'; a
// message the wallboard socket does not take is answered unknown_type, and
// hot topics on a node without them no_hot_topics (the page says so in
// Chinese).
func TestToSupervisors(t *testing.T) {
	e := startDesk(t)
	w := e.wallboard(t)
	agent := e.seat(t, "1001")
	requireError(t, reply(t, w, "hot_topic_publish", map[string]any{"line": "*", "text": "停水"}), "no_hot_topics", "hot topics")
	requireError(t, reply(t, w, "ready", nil), "unknown_type", "ready")
	e.s.ToSupervisors(map[string]any{"type": "hot_topics", "topics": []any{}})
	next(t, w, "hot_topics")
	for _, m := range until(t, agent) {
		require.NotEqual(t, "hot_topics", m.Type, "an agent's desk got a supervisors' message")
	}
}
