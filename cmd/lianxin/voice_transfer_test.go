package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/linkage"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// TestOneKeyTransferAcrossNodes: the agent's desk is on node A, the caller
// dialled node B. The agent presses "120" on the desk: node A asks node B
// (its command stream) to transfer the call; node B calls 120 (a sipp UAS
// echoing what it hears) through the trunk and bridges the caller, who
// hears their own voice come back from 120. The desk sees the contact
// closed transferred_120, and 120's webhook gets the signed push.
func TestOneKeyTransferAcrossNodes(t *testing.T) {
	t.Parallel()
	siptest.RequireTools(t, "sipp", "baresip")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	uas := siptest.Sipp(t, siptest.SippOptions{Scenario: "agent-phone.xml", Vars: map[string]string{"play": "0"},
		RTPEcho: true, AutoAnswer: true, Calls: 1})
	var mu sync.Mutex
	var pushes []linkage.Push
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if linkage.Verify(r.Header, []byte("secret-shared-with-120"), body, time.Now(), time.Minute) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p linkage.Push
		_ = json.Unmarshal(body, &p)
		mu.Lock()
		pushes = append(pushes, p)
		mu.Unlock()
	}))
	defer hook.Close()
	withTransfer := func(c *configs.Config) {
		noMenus(c)
		c.SIP.Trunk.Proxy = uas.Addr()
		c.SIP.Transfer.Targets = map[string]linkage.Target{"120": {URI: "sip:120@120.emergency.invalid",
			Webhook: hook.URL, Secret: "secret-shared-with-120"}, "110": {URI: "sip:110@110.emergency.invalid", Secret: "secret-of-110-0123456789"}}
	}
	s := queuetest.RedisServer(t)
	a := startNode(t, s.URL, "node-a", withTransfer)
	b := startNode(t, s.URL, "node-b", withTransfer)

	_, d := readyWithPhone(ctx, t, a.n.voice.Addr().String(), a.base, "1001")
	call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: b.n.voice.Addr().String(), Number: "12345",
		From: "13900139801"})
	require.NoError(t, err)
	tn := next(t, d, "assigned").Object().TrackingNo
	c, err := a.n.q.Contact(ctx, tn)
	require.NoError(t, err)
	require.Equal(t, "node-b", c.Node, "the call is held by node B")

	send(t, d, "transfer", map[string]any{"contact": tn, "to": "120", "note": "老人摔倒"})
	closed := next(t, d, "closed")
	require.Equal(t, tn, closed.TrackingNo())
	require.Equal(t, string(queue.OutcomeTransfer120), closed.Outcome)
	require.NoError(t, call.Rec.WaitFor(ctx, func(p []siptest.RTPPacket) bool {
		a := siptest.DecodeG711(p)
		return len(a) > 8000 && siptest.HasTone(a[len(a)-4000:], siptest.CallerToneHz)
	}), "the caller is bridged to 120, which hears them")
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(pushes) == 1
	}, time.Minute, 50*time.Millisecond, "120's webhook got the push")
	mu.Lock()
	require.Equal(t, tn+":120", pushes[0].ID)
	require.Equal(t, "老人摔倒", pushes[0].Note)
	mu.Unlock()
	require.NoError(t, call.Hangup(ctx))
	res, err := uas.Wait()
	require.NoError(t, err)
	require.Equal(t, 1, res.Successful, "%s", res.Errors)

	// The other way: 110 pushes a referral to node B, signed with 110's
	// secret; it waits in the first queue for an agent to call back.
	body := []byte(`{"id":"110-0001","caller":"13800138000","text":"邻居装修噪音扰民","note":"非警务，转12345"}`)
	req, err := http.NewRequest(http.MethodPost, b.base+"/channels/110/pushes", bytes.NewReader(body))
	require.NoError(t, err)
	linkage.SignRequest(req.Header, []byte("secret-of-110-0123456789"), time.Now(), body)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var got struct {
		TrackingNo string `json:"tracking_no"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	rc, err := a.n.q.Contact(ctx, got.TrackingNo)
	require.NoError(t, err)
	require.Equal(t, queue.ChannelTransfer, rc.Channel)
	require.Equal(t, "非警务，转12345", rc.OperatorNote)
}
