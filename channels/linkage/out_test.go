package linkage

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// webhook is a line's receiver: it checks each push's signature, answers
// the first ones with the statuses given, then 200, and keeps what it got.
type webhook struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	codes  []int
	got    []Push
	bad    int
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := Verify(r.Header, []byte(h.secret), body, time.Now(), time.Minute); err != nil {
		h.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var p Push
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.got = append(h.got, p)
	code := http.StatusOK
	if len(h.codes) > 0 {
		code, h.codes = h.codes[0], h.codes[1:]
	}
	w.WriteHeader(code)
}

func (h *webhook) pushes() []Push {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Push(nil), h.got...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 600; i++ {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

// TestPushRetriedUntilAcknowledged: a text contact transferred to 110 is
// pushed to 110's webhook as signed JSON with the citizen's data and the
// agent's note; the webhook answers 500 and the push is sent again from the
// outbox until it answers 200; the contact shows the push's status. A
// second Transfer of the same contact pushes nothing more.
func TestPushRetriedUntilAcknowledged(t *testing.T) {
	q := newQueue(t)
	ctx := context.Background()
	hook := &webhook{t: t, secret: "secret-of-110", codes: []int{http.StatusInternalServerError}}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	p := NewPusher(q, map[string]Target{"110": {URI: "sip:110@127.0.0.1", Webhook: srv.URL, Secret: "secret-of-110"}},
		zaptest.NewLogger(t), WithRetry(200*time.Millisecond, time.Second))
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(rctx) }()
	defer func() { cancel(); <-done }()

	r, err := q.Enqueue(ctx, queue.Intake{Channel: queue.ChannelSMS, Line: "12345", Queue: "general",
		Citizen: queue.Citizen{Address: "+8613800138000", Phone: "+8613800138000"},
		Text:    "有人在小区门口打架，已经有人受伤", Location: &queue.Location{Address: "成华区建设路"}}, "")
	require.NoError(t, err)
	tn := r.TrackingNo
	_, err = q.Connect(ctx, queue.Profile{ID: "a1", Skills: map[string]int{"general": 1},
		Capacity: map[queue.Channel]int{queue.ChannelSMS: 1}})
	require.NoError(t, err)
	require.NoError(t, q.AddMessage(ctx, tn, queue.Message{From: queue.FromCitizen, Kind: "text", Text: "对方有刀"}))
	require.NoError(t, q.AddMessage(ctx, tn, queue.Message{From: queue.FromAgent, Agent: "a1", Kind: "text", Text: "请注意安全"}))

	require.NoError(t, p.Transfer(ctx, tn, "110", ""))
	require.NoError(t, p.Transfer(ctx, tn, "110", ""), "a repeat is harmless")
	eventually(t, "the push delivered", func() bool {
		c := contactOf(t, q, tn)
		return c.Transfer != nil && c.Transfer.Status == queue.TransferDelivered
	})
	c := contactOf(t, q, tn)
	require.Equal(t, &queue.TransferInfo{To: "110", Status: queue.TransferDelivered, Tries: 2}, c.Transfer)
	got := hook.pushes()
	require.Len(t, got, 2, "the first answered 500, the second 200")
	require.Equal(t, got[0].ID, got[1].ID, "a retry carries the same id")
	push := got[1]
	require.Equal(t, tn+":110", push.ID)
	require.Equal(t, tn, push.TrackingNo)
	require.Equal(t, "110", push.To)
	require.Equal(t, "+8613800138000", push.Caller)
	require.Equal(t, "12345", push.Line)
	require.Equal(t, queue.ChannelSMS, push.Channel)
	require.Equal(t, "成华区建设路", push.Location.Address)
	require.Len(t, push.Words, 2, "the citizen's words, not the agent's")
	require.Equal(t, "有人在小区门口打架，已经有人受伤", push.Words[0].Text)
	require.Equal(t, "对方有刀", push.Words[1].Text)
	require.Zero(t, hook.bad, "every push was signed right")

	// Nothing more is sent: the job is done.
	time.Sleep(500 * time.Millisecond)
	require.Len(t, hook.pushes(), 2)
	require.ErrorIs(t, p.Transfer(ctx, tn, "999", ""), ErrNoTarget)
}
