package agentdesk

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/channels/linkage"
	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// TestDeskTransfers: an agent hands a letter to a named colleague with a
// note (the colleague is offered it with the note; the agent's desk is told
// it went), the colleague transfers it to 110 (it closes transferred_110
// and its push to 110 is queued), a wrap-up as transferred_110 is pushed
// too; bad transfer messages are refused with the field named.
func TestDeskTransfers(t *testing.T) {
	var pusher *linkage.Pusher
	e := startDesk(t, func(p *Params) {
		pusher = linkage.NewPusher(p.Queue, map[string]linkage.Target{"110": {Webhook: "http://127.0.0.1:9/110"}},
			zaptest.NewLogger(t))
		p.Transfers = Transfers{Boost: 2, BackToAgent: true, Lines: pusher}
	})
	ctx := context.Background()
	a1 := e.seat(t, "1001")
	tn := e.letter(t, "box-1", "市长信箱")
	require.Equal(t, tn, next(t, a1, "offer").TrackingNo())
	_, err := a1.Send("accept", map[string]any{"contact": tn})
	require.NoError(t, err)
	next(t, a1, "assigned")
	a2 := e.seat(t, "1002")

	_, err = a1.Send("transfer", map[string]any{"contact": tn, "to": "agent", "agent": "1002", "note": "涉及供暖，请跟进"})
	require.NoError(t, err)
	m := next(t, a1, "transferred")
	require.Equal(t, tn, m.TrackingNo())
	ackOf(t, a1, "transfer")
	offer := next(t, a2, "offer")
	var oc struct {
		TrackingNo    string `json:"tracking_no"`
		TransferNote  string `json:"transfer_note"`
		TransferredBy string `json:"transferred_by"`
		Priority      int    `json:"priority"`
	}
	require.NoError(t, json.Unmarshal(offer.Contact, &oc))
	require.Equal(t, tn, oc.TrackingNo)
	require.Equal(t, "涉及供暖，请跟进", oc.TransferNote)
	require.Equal(t, "1001", oc.TransferredBy)
	require.Equal(t, 2, oc.Priority)

	_, err = a2.Send("accept", map[string]any{"contact": tn})
	require.NoError(t, err)
	next(t, a2, "assigned")
	_, err = a2.Send("transfer", map[string]any{"contact": tn, "to": "110", "note": "有人持刀"})
	require.NoError(t, err)
	closed := next(t, a2, "closed")
	require.Equal(t, string(queue.OutcomeTransfer110), closed.Outcome)
	ackOf(t, a2, "transfer") // the push is queued before the ack
	c, err := e.q.Contact(ctx, tn)
	require.NoError(t, err)
	require.Equal(t, "有人持刀", c.Note)
	require.Equal(t, &queue.TransferInfo{To: "110", Status: queue.TransferPending}, c.Transfer)

	// A wrap-up as transferred_110 pushes the contact too.
	tn2 := e.letter(t, "box-1", "市长信箱")
	o := next(t, a1, "offer", "assigned")
	require.Equal(t, tn2, o.Object().TrackingNo)
	_, err = a1.Send("accept", map[string]any{"contact": tn2})
	require.NoError(t, err)
	next(t, a1, "assigned")
	_, err = a1.Send("wrapup", map[string]any{"contact": tn2, "request_type": "help", "outcome": "transferred_110"})
	require.NoError(t, err)
	next(t, a1, "closed")
	ackOf(t, a1, "wrapup")
	c, err = e.q.Contact(ctx, tn2)
	require.NoError(t, err)
	require.Equal(t, &queue.TransferInfo{To: "110", Status: queue.TransferPending}, c.Transfer)

	for _, tc := range []struct {
		fields map[string]any
		code   string
		words  string
	}{
		{map[string]any{"contact": tn, "to": "999"}, "bad_message", "to:"},
		{map[string]any{"contact": tn, "to": "queue"}, "bad_message", "queue:"},
		{map[string]any{"contact": tn, "to": "agent"}, "bad_message", "agent:"},
		{map[string]any{"contact": tn, "to": "110", "mode": "loud"}, "bad_message", "mode:"},
		{map[string]any{"contact": "123", "to": "110"}, "bad_message", "contact:"},
		{map[string]any{"contact": tn2, "to": "120"}, "bad_message", "not configured"},
		{map[string]any{"contact": tn2, "to": "queue", "queue": "general"}, "wrong_state", ""},
	} {
		ref, err := a1.Send("transfer", tc.fields)
		require.NoError(t, err)
		m := next(t, a1, "error")
		require.Equal(t, ref, m.Ref)
		require.Equal(t, tc.code, m.Code, "%v: %s", tc.fields, m.Message)
		require.Contains(t, string(m.Raw), tc.words)
	}
}

// ackOf reads up to the ack of a message of type typ.
func ackOf(t *testing.T, c *desktest.Client, typ string) {
	t.Helper()
	for next(t, c, "ack").For != typ {
	}
}

// TestDeskToldHowALineTransferGoes: the steps of a call's transfer to an
// emergency line, told by the node holding the call through the event
// stream, reach the desk of the agent who asked it (on whichever node),
// and no other desk.
func TestDeskToldHowALineTransferGoes(t *testing.T) {
	e := startDesk(t)
	ctx := context.Background()
	a1 := e.seat(t, "1001")
	a2 := e.seat(t, "1002")
	const tn = "261202000004217"
	for _, st := range []queue.LineStep{
		{To: "120", Mode: "warm", State: queue.LineCalling},
		{To: "120", Mode: "warm", State: queue.LineFailed, Reason: "busy"},
	} {
		require.NoError(t, e.q.LineTransferStep(ctx, "1001", tn, st))
	}
	for _, want := range []map[string]any{
		{"type": "line_transfer", "contact": tn, "to": "120", "mode": "warm", "state": "calling"},
		{"type": "line_transfer", "contact": tn, "to": "120", "mode": "warm", "state": "failed", "reason": "busy"},
	} {
		m := next(t, a1, "line_transfer")
		var got map[string]any
		require.NoError(t, json.Unmarshal(m.Raw, &got))
		require.Equal(t, want, got)
	}
	for _, m := range until(t, a2) {
		require.NotEqual(t, "line_transfer", m.Type, "another agent's desk is told nothing")
	}
}
