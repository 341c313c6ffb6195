package channels_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestTakeOnePath: the intake path's rules, the same for every channel,
// on the embedded store and a real redis-server.
func TestTakeOnePath(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		queuetest.Flush(t, s)
		ctx := context.Background()
		rdb := s.Client(t)
		q, err := queue.New(rdb, queue.Options{NodeID: "t", Queues: []queue.Def{{Name: "general"}}})
		require.NoError(t, err)
		letter := func(text string) queue.Intake {
			return queue.Intake{Channel: queue.ChannelMailbox, Line: "box", Queue: "general", Text: text,
				Citizen: queue.Citizen{Address: "a@example.cn", Email: "a@example.cn"}}
		}
		sms := func(text string) queue.Intake {
			return queue.Intake{Channel: queue.ChannelSMS, Line: "12345", Queue: "general", Text: text,
				Citizen: queue.Citizen{Address: "+8613800138000", Phone: "+8613800138000"}}
		}

		// An emergency: priority, request type, advice before the number.
		gas, err := channels.Take(ctx, q, channels.Request{In: letter("楼道里燃气泄漏了，味道很大"), Key: "web:1"})
		require.NoError(t, err)
		require.Equal(t, "gas", gas.Emergency)
		require.True(t, strings.HasPrefix(gas.Ack, channels.EmergencyAdvice("gas")), gas.Ack)
		require.Contains(t, gas.Ack, gas.TrackingNo)
		c, err := q.Contact(ctx, gas.TrackingNo)
		require.NoError(t, err)
		require.Equal(t, channels.EmergencyPriority, c.Priority)
		require.Equal(t, queue.RequestHelp, c.RequestType)
		again, err := channels.Take(ctx, q, channels.Request{In: letter("楼道里燃气泄漏了，味道很大"), Key: "web:1"})
		require.NoError(t, err)
		require.True(t, again.Duplicate)
		require.Equal(t, gas.TrackingNo, again.TrackingNo)

		// A client's key reused for other content is refused, naming the first.
		other, err := channels.Take(ctx, q, channels.Request{In: letter("路灯坏了"), Key: "web:1"})
		require.ErrorIs(t, err, queue.ErrIdempotencyConflict)
		require.Equal(t, gas.TrackingNo, other.TrackingNo)
		// A provider's reused message id with other content is another message.
		first, err := channels.Take(ctx, q, channels.Request{In: sms("请问社保怎么转移"), Key: "sms:9", Conversation: true, ProviderKey: true})
		require.NoError(t, err)
		require.Equal(t, channels.Ack(first.TrackingNo), first.Ack)
		joined, err := channels.Take(ctx, q, channels.Request{In: sms("我在高新区上班"), Key: "sms:9", Conversation: true, ProviderKey: true})
		require.NoError(t, err)
		require.True(t, joined.Joined, "taken as the next message of the conversation")
		require.Equal(t, first.TrackingNo, joined.TrackingNo)
		require.Equal(t, channels.JoinedAck(first.TrackingNo), joined.Ack)
		msgs, err := q.Messages(ctx, first.TrackingNo)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		// The id and the content again, from another sender (found by
		// FuzzWebhook: an image, no text, under a MsgId seen before):
		// another message too, not a conflict the provider is told to
		// retry for ever. Its own retry is a duplicate.
		elsewhere := sms("我在高新区上班")
		elsewhere.Citizen = queue.Citizen{Address: "+8613900139000", Phone: "+8613900139000"}
		third, err := channels.Take(ctx, q, channels.Request{In: elsewhere, Key: "sms:9", Conversation: true, ProviderKey: true})
		require.NoError(t, err)
		require.NotEqual(t, first.TrackingNo, third.TrackingNo, "the other sender's own contact")
		require.False(t, third.Duplicate)
		retried, err := channels.Take(ctx, q, channels.Request{In: elsewhere, Key: "sms:9", Conversation: true, ProviderKey: true})
		require.NoError(t, err)
		require.True(t, retried.Duplicate)
		require.Equal(t, third.TrackingNo, retried.TrackingNo)

		// One alert, with the contact; none for the duplicate.
		evs, err := rdb.XRange(ctx, "{lianxin}:events", "-", "+").Result()
		require.NoError(t, err)
		alerts := 0
		for _, ev := range evs {
			if ev.Values["type"] == "alert" {
				alerts++
				require.Equal(t, gas.TrackingNo, ev.Values["contact"])
				require.Equal(t, "gas", ev.Values["reason"])
			}
		}
		require.Equal(t, 1, alerts)
	})
}
