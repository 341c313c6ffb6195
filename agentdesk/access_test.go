package agentdesk

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
)

// get does a GET with an optional bearer token and returns status and body.
func get(t *testing.T, c *http.Client, url, tok string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(raw, &body))
	} else {
		body = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, body
}

// Issue 10: an attachment is only for the agent who is offered, holds or
// held its contact, and for supervisors; never by a token in the URL.
func TestAttachmentOnlyForItsHolders(t *testing.T) {
	e := startDesk(t)
	sha := strings.Repeat("ab", 32)
	other := strings.Repeat("cd", 32)
	d := e.seat(t, "1001")
	tn := e.letter(t, "box-1", "市长信箱", queue.Attachment{Name: "a.jpg", Type: "image/jpeg", Size: 64, SHA256: sha})
	require.Equal(t, tn, next(t, d, "offer").TrackingNo())
	tok1001, tok1002, tok1005 := e.login(t, "1001"), e.login(t, "1002"), e.login(t, "1005")
	c := http.DefaultClient
	url := e.base + "/api/attachments/" + sha + "?contact=" + tn

	st, body := get(t, c, url, tok1001)
	require.Equal(t, http.StatusOK, st, "%v", body)
	require.Equal(t, sha, body["raw"])
	st, _ = get(t, c, url, tok1002)
	require.Equal(t, http.StatusForbidden, st, "another agent's contact")
	st, _ = get(t, c, e.base+"/api/attachments/"+other+"?contact="+tn, tok1001)
	require.Equal(t, http.StatusForbidden, st, "a hash that is not the contact's")
	st, _ = get(t, c, e.base+"/api/attachments/"+sha, tok1001)
	require.Equal(t, http.StatusBadRequest, st, "an agent names the contact")
	st, _ = get(t, c, url+"&token="+tok1001, "")
	require.Equal(t, http.StatusUnauthorized, st, "a token in the URL is not taken")
	st, _ = get(t, c, e.base+"/api/attachments/"+sha, tok1005)
	require.Equal(t, http.StatusOK, st, "a supervisor opens any attachment")

	// Accepted, wrapped up, and the contact later held by nobody: 1001 once
	// held it and still may open it.
	send(t, d, "accept", map[string]any{"contact": tn})
	send(t, d, "wrapup", map[string]any{"contact": tn, "request_type": "complaint", "outcome": "resolved"})
	held, err := e.rdb.SMembers(context.Background(), "{lianxin}:agentdesk:held:1001").Result()
	require.NoError(t, err)
	require.Equal(t, []string{tn}, held)
	require.NoError(t, e.rdb.HSet(context.Background(), "{lianxin}:c:"+tn, "agent", "").Err())
	st, _ = get(t, c, url, tok1001)
	require.Equal(t, http.StatusOK, st, "an agent who held the contact")
	st, _ = get(t, c, url, tok1002)
	require.Equal(t, http.StatusForbidden, st)
}

// send sends a desk message and waits for its ack.
func send(t *testing.T, d *desktest.Client, typ string, fields map[string]any) {
	t.Helper()
	ref, err := d.Send(typ, fields)
	require.NoError(t, err)
	for {
		m := next(t, d, "ack", "error")
		if m.Ref == ref {
			require.Equal(t, "ack", m.Type, "%s: %s", typ, m.Raw)
			return
		}
	}
}

// /api/queues is the supervisors'.
func TestQueuesForSupervisorsOnly(t *testing.T) {
	e := startDesk(t)
	st, _ := get(t, http.DefaultClient, e.base+"/api/queues", e.login(t, "1001"))
	require.Equal(t, http.StatusForbidden, st)
	st, body := get(t, http.DefaultClient, e.base+"/api/queues", e.login(t, "1005"))
	require.Equal(t, http.StatusOK, st)
	require.NotEmpty(t, body["queues"])
}

// The public lookup asks for the last four digits of the citizen's phone,
// is rate-limited per address and per tracking number, and never names a
// discipline-inspection mailbox.
func TestPublicLookup(t *testing.T) {
	e := startDesk(t)
	plain := e.letter(t, "box-1", "市长信箱")
	secret := e.letter(t, "cd-jj-town-004", "锦江区春熙路街道纪工委书记信箱")
	r, err := e.q.Enqueue(context.Background(), queue.Intake{Channel: queue.ChannelWeChat, Line: "gh_1",
		Citizen: queue.Citizen{Address: "oOpenID123"}, Text: "你好", Queue: "general"}, "")
	require.NoError(t, err)
	noPhone := r.TrackingNo
	c := clientFrom("127.0.0.1")
	look := func(tn, q string) (int, map[string]any) { return get(t, c, e.base+"/api/contacts/"+tn+q, "") }

	st, _ := look(plain, "")
	require.Equal(t, http.StatusBadRequest, st, "no digits")
	st, body := look(plain, "?phone_last4=1234")
	require.Equal(t, http.StatusNotFound, st, "wrong digits look like no contact: %v", body)
	st, body = look(plain, "?phone_last4=8000")
	require.Equal(t, http.StatusOK, st, "%v", body)
	require.Equal(t, "市长信箱", body["line_name"])
	require.Equal(t, "report", body["request_type"])
	st, body = look(secret, "?phone_last4=8000")
	require.Equal(t, http.StatusOK, st, "%v", body)
	require.NotContains(t, body, "line_name")
	require.NotContains(t, body, "line")
	require.NotContains(t, body, "request_type")
	st, body = look(noPhone, "?phone_last4=0000")
	require.Equal(t, http.StatusForbidden, st)
	require.Equal(t, "no_phone", body["error"])

	// Guessing one number's digits: locked after 10 misses, from anywhere.
	for i := range 9 {
		st, _ = get(t, clientFrom("127.0.2."+string(rune('1'+i))), e.base+"/api/contacts/"+plain+"?phone_last4=000"+string(rune('1'+i)), "")
		require.Equal(t, http.StatusNotFound, st)
	}
	st, _ = look(plain, "?phone_last4=8000")
	require.Equal(t, http.StatusTooManyRequests, st, "the number is locked after 10 misses, even with the right digits")

	// One address may look up 30 a minute.
	other := clientFrom("127.0.0.9")
	var last int
	for range 31 {
		last, _ = get(t, other, e.base+"/api/contacts/"+secret+"?phone_last4=8000", "")
	}
	require.Equal(t, http.StatusTooManyRequests, last)
}

// downBlobs is an attachment store that does not answer (an object store
// out of reach).
type downBlobs struct{}

func (downBlobs) Open(context.Context, string) (io.ReadCloser, int64, error) {
	return nil, 0, errors.New("dial tcp 10.0.0.9:9000: connection refused")
}

// An attachment store that does not answer is 503 (try again), not 404
// (gone): the attachment is not lost.
func TestAttachmentStoreDown(t *testing.T) {
	e := startDesk(t, func(p *Params) { p.Blobs = downBlobs{} })
	st, body := get(t, http.DefaultClient, e.base+"/api/attachments/"+strings.Repeat("ab", 32), e.login(t, "1005"))
	require.Equal(t, http.StatusServiceUnavailable, st, "%v", body)
	require.Equal(t, "unavailable", body["error"])
}
