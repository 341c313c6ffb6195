package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// A citizen writing again joins their open contact, and the desk holding it
// sees the new message at once; a reply on a channel with no way out is
// refused with a code the desk can show.
func TestConversationReachesTheDesk(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a")
	q, err := queue.New(s.Client(t), queue.Options{NodeID: "intake", Queues: n.n.q.Queues()})
	require.NoError(t, err)
	d := desk(t, n.base, "1001")
	send(t, d, "ready", nil)

	in := queue.Intake{Channel: queue.ChannelSMS, Line: "12345", Queue: "general", Text: "楼下烧烤油烟很大",
		Citizen: queue.Citizen{Address: "+8613800138000", Phone: "+8613800138000"}}
	first, err := q.Receive(context.Background(), in, "sms:test:1")
	require.NoError(t, err)
	require.Equal(t, first.TrackingNo, next(t, d, "offer").Object().TrackingNo)
	send(t, d, "accept", map[string]any{"contact": first.TrackingNo})

	in.Text = "地址是建设路88号"
	second, err := q.Receive(context.Background(), in, "sms:test:2")
	require.NoError(t, err)
	require.True(t, second.Joined)
	m := next(t, d, "message")
	require.Equal(t, first.TrackingNo, m.TrackingNo())
	require.Contains(t, string(m.Raw), "地址是建设路88号")

	ref, err := d.Send("reply", map[string]any{"contact": first.TrackingNo, "text": "已收到，正在处理"})
	require.NoError(t, err)
	for {
		e := next(t, d, "error", "ack")
		if e.Ref != ref {
			continue
		}
		require.Equal(t, "error", e.Type)
		require.Equal(t, "no_reply_path", e.Code, e.Message)
		break
	}

	// A desk that reconnects gets the conversation with the contact.
	d.Drop()
	tok := loginToken(t, n.base, "1001")
	d2 := dialDesk(t, n.base, tok)
	a := next(t, d2, "assigned")
	require.Contains(t, string(a.Raw), "地址是建设路88号")
}

// An expired or revoked token is refused by the API and the websocket.
func TestExpiredToken(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a")
	tok := loginToken(t, n.base, "1005") // a supervisor: /api/queues is theirs
	r := do(t, http.MethodGet, n.base+"/api/queues", "", nil, "Authorization", "Bearer "+tok)
	require.Equal(t, http.StatusOK, r.Status)
	keys, err := s.Client(t).Keys(context.Background(), "{lianxin}:agentdesk:tok:*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1)
	ttl, err := s.Client(t).TTL(context.Background(), keys[0]).Result()
	require.NoError(t, err)
	require.Greater(t, ttl.Hours(), 11.0, "a token lasts a shift")
	require.NoError(t, s.Client(t).Del(context.Background(), keys[0]).Err()) // as if it expired
	r = do(t, http.MethodGet, n.base+"/api/queues", "", nil, "Authorization", "Bearer "+tok)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	_, resp, err := desktest.Dial(context.Background(), n.base, tok)
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}
