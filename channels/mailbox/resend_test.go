package mailbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/channels/mailbox"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// lostAnswer is the queue, except that the first Enqueue's answer is lost
// after the contact was stored (as when Redis ran the script but the reply
// came after the client's timeout): the citizen is told 503.
type lostAnswer struct {
	*queue.Queue
	calls atomic.Int64
}

func (l *lostAnswer) Enqueue(ctx context.Context, in queue.Intake, key string) (queue.Receipt, error) {
	rc, err := l.Queue.Enqueue(ctx, in, key)
	if l.calls.Add(1) == 1 && err == nil {
		return queue.Receipt{}, errors.New("i/o timeout (the reply was lost)")
	}
	return rc, err
}

// Issue 7: a citizen who sends a web letter without an Idempotency-Key and
// gets 503 sends it again; the letter had been stored, and used to become
// two contacts. The implicit key (mailbox, sender, content, 10 minutes
// from the first) makes the resend the same contact. Through a real
// listener and a real redis-server.
func TestResendWithoutKeyAfter503(t *testing.T) {
	rs := queuetest.RedisServer(t)
	rdb := rs.Client(t)
	q, err := queue.New(rdb, queue.Options{NodeID: "t", Queues: []queue.Def{{Name: "general"}}})
	require.NoError(t, err)
	blobs, err := blobstore.NewDir(t.TempDir())
	require.NoError(t, err)
	lq := &lostAnswer{Queue: q}
	h := mailbox.NewHandler(func(id string) (channels.Mailbox, bool) {
		return channels.Mailbox{ID: id, Name: "市长信箱", Queue: "general"}, id == "cd-city-0002"
	}, lq, blobs, limits, nil)
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	send := func(text string) (int, map[string]any) {
		body, _ := json.Marshal(map[string]string{"phone": "13800138000", "text": text})
		resp, err := http.Post(srv.URL+"/channels/mailbox/cd-city-0002/letters", "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	st, _ := send("小区门口路灯坏了一个月")
	require.Equal(t, http.StatusServiceUnavailable, st)
	st, again := send("小区门口路灯坏了一个月")
	require.Equal(t, http.StatusAccepted, st, "%v", again)
	require.Equal(t, true, again["duplicate"], "the resend is the letter already stored")
	st, other := send("另一件事：垃圾没人收")
	require.Equal(t, http.StatusAccepted, st)
	require.Equal(t, false, other["duplicate"])
	require.NotEqual(t, again["tracking_no"], other["tracking_no"])
	waiting, err := q.Stats(context.Background())
	require.NoError(t, err)
	var n int64
	for _, s := range waiting {
		n += s.Waiting
	}
	require.EqualValues(t, 2, n, "two letters, two contacts")
}

// A letter without an Idempotency-Key sent again within the window with the
// same sender and text but anything else changed (here the request type
// the citizen chose) is another letter: it is queued, not refused as a
// reused key the citizen never sent (found by FuzzJSONLetter).
func TestSameTextChangedIsAnotherLetter(t *testing.T) {
	h, q := newHandler(t)
	first := post(h, "application/json", []byte(`{"phone":"13800138000","text":"路灯坏了","request_type":"help"}`))
	require.Equal(t, http.StatusAccepted, first.Code, first.Body.String())
	again := post(h, "application/json", []byte(`{"phone":"13800138000","text":"路灯坏了","request_type":"help"}`))
	require.Equal(t, http.StatusAccepted, again.Code, again.Body.String())
	changed := post(h, "application/json", []byte(`{"phone":"13800138000","text":"路灯坏了","request_type":"complaint"}`))
	require.Equal(t, http.StatusAccepted, changed.Code, changed.Body.String())
	var a, b, c struct {
		TrackingNo string `json:"tracking_no"`
		Duplicate  bool   `json:"duplicate"`
	}
	require.NoError(t, json.Unmarshal(first.Body.Bytes(), &a))
	require.NoError(t, json.Unmarshal(again.Body.Bytes(), &b))
	require.NoError(t, json.Unmarshal(changed.Body.Bytes(), &c))
	require.Equal(t, a.TrackingNo, b.TrackingNo, "the same letter again")
	require.True(t, b.Duplicate)
	require.NotEqual(t, a.TrackingNo, c.TrackingNo, "a changed letter is another")
	require.False(t, c.Duplicate)
	ct, err := q.Contact(context.Background(), c.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, queue.RequestComplaint, ct.RequestType)
}

// A phone number from abroad is kept as the citizen wrote it, in E.164
// (+1 415… was stored as +86 1415…, a number nobody answers; then, for a
// day, refused); one that is no number is refused, naming the field.
func TestForeignPhoneIsKept(t *testing.T) {
	h, q := newHandler(t)
	w := post(h, "application/json", []byte(`{"phone":"+1 (415) 555-0123","text":"路灯坏了"}`))
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	var ok struct {
		TrackingNo string `json:"tracking_no"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &ok))
	c, err := q.Contact(context.Background(), ok.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, "+14155550123", c.Citizen.Phone)

	w = post(h, "application/json", []byte(`{"phone":"+1 234","email":"a@example.com","text":"路灯坏了"}`))
	require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
	var out map[string]string
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	require.Equal(t, "bad_field", out["error"])
	require.Equal(t, "phone", out["field"])
	require.Contains(t, out["message"], "country code")
}
