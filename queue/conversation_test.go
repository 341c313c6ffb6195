package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

func sms(text string) queue.Intake {
	return queue.Intake{Channel: queue.ChannelSMS, Line: "12345", Queue: "general", Text: text,
		Citizen: queue.Citizen{Address: "+8613800138000", Phone: "+8613800138000"}}
}

func TestReceiveJoinsTheOpenConversation(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		first, err := e.q.Receive(e.ctx, sms("楼下烧烤油烟很大"), "sms:1")
		require.NoError(t, err)
		require.False(t, first.Joined)
		e.clock.Add(time.Minute)
		second, err := e.q.Receive(e.ctx, sms("地址是建设路88号"), "sms:2")
		require.NoError(t, err)
		require.True(t, second.Joined)
		require.Equal(t, first.TrackingNo, second.TrackingNo)
		// A retry of the second message changes nothing.
		again, err := e.q.Receive(e.ctx, sms("地址是建设路88号"), "sms:2")
		require.NoError(t, err)
		require.True(t, again.Duplicate)
		msgs, err := e.q.Messages(e.ctx, first.TrackingNo)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.Equal(t, "地址是建设路88号", msgs[0].Text)
		require.Equal(t, queue.FromCitizen, msgs[0].From)
		require.Equal(t, 1, e.contact(first.TrackingNo).MessageCount)

		// Another line, or another citizen, is another conversation.
		other := sms("另一个号码")
		other.Citizen.Address = "+8613900139000"
		r, err := e.q.Receive(e.ctx, other, "")
		require.NoError(t, err)
		require.NotEqual(t, first.TrackingNo, r.TrackingNo)

		// Once wrapped up, the next message starts a new contact.
		e.agent(e.q, "1001", general, map[queue.Channel]int{queue.ChannelSMS: 2})
		e.finish("1001", first.TrackingNo)
		require.NoError(t, e.q.AddMessage(e.ctx, first.TrackingNo, queue.Message{From: queue.FromAgent, Agent: "1001", Text: "已转城管"}))
		third, err := e.q.Receive(e.ctx, sms("还是有油烟"), "sms:3")
		require.NoError(t, err)
		require.False(t, third.Joined)
		require.NotEqual(t, first.TrackingNo, third.TrackingNo)
	})
}

func TestMessageEventReachesTheHoldingNode(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		events := make(chan queue.Event, 100)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = e.q.Subscribe(ctx, func(ev queue.Event) { events <- ev })
		}()
		time.Sleep(100 * time.Millisecond)
		e.agent(e.q, "1001", general, map[queue.Channel]int{queue.ChannelSMS: 1})
		r, err := e.q.Receive(e.ctx, sms("第一条"), "")
		require.NoError(t, err)
		require.NoError(t, e.q.Accept(e.ctx, "1001", r.TrackingNo))
		_, err = e.q.Receive(e.ctx, sms("第二条"), "")
		require.NoError(t, err)
		require.NoError(t, e.q.Alert(e.ctx, r.TrackingNo, "fire", "着火了"))
		var gotMsg, gotAlert bool
		for ev := range events {
			switch ev.Type {
			case queue.EventMessage:
				require.Equal(t, "1001", ev.Agent)
				require.Equal(t, "node-a", ev.Node)
				require.Equal(t, "第二条", ev.Message.Text)
				gotMsg = true
			case queue.EventAlert:
				require.Equal(t, "fire", ev.Reason)
				gotAlert = true
			}
			if gotMsg && gotAlert {
				break
			}
		}
		cancel()
		<-done
	})
}

func TestUrgentMessageRaisesItsConversation(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		older := sms("an older, ordinary message")
		older.Citizen.Address = "+8613900139000"
		otherR, err := e.q.Receive(e.ctx, older, "")
		require.NoError(t, err)
		e.clock.Add(time.Second)
		calm, err := e.q.Receive(e.ctx, sms("路灯坏了"), "")
		require.NoError(t, err)
		e.clock.Add(time.Second)
		urgent := sms("现在楼道里着火了")
		urgent.Priority = 9
		r, err := e.q.Receive(e.ctx, urgent, "")
		require.NoError(t, err)
		require.True(t, r.Joined)
		require.Equal(t, 9, e.contact(calm.TrackingNo).Priority)
		// It is now ahead of the older message.
		e.agent(e.q, "1001", general, map[queue.Channel]int{queue.ChannelSMS: 1})
		e.requireOffered(calm.TrackingNo, "1001")
		e.requireWaiting(otherR.TrackingNo)
	})
}

// TestAlertRaisedWithTheIntake: an intake's alert is raised by the script
// that stores it: with a new contact and with a message joining one, never
// for a duplicate (a provider's redelivery), and on the embedded store as
// on Redis.
func TestAlertRaisedWithTheIntake(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		in := sms("家里着火了")
		in.Alert = &queue.Alert{Kind: "fire", Text: "家里着火了"}
		first, err := e.q.Receive(e.ctx, in, "sms:a1")
		require.NoError(t, err)
		again, err := e.q.Receive(e.ctx, in, "sms:a1")
		require.NoError(t, err)
		require.True(t, again.Duplicate)
		in.Text, in.Alert.Text = "火越来越大", "火越来越大"
		joined, err := e.q.Receive(e.ctx, in, "sms:a2")
		require.NoError(t, err)
		require.True(t, joined.Joined)
		letter := queue.Intake{Channel: queue.ChannelMailbox, Line: "l", Queue: "general", Text: "燃气泄漏",
			Citizen: queue.Citizen{Address: "a@example.cn"}, Alert: &queue.Alert{Kind: "gas", Text: "燃气泄漏"}}
		l1, err := e.q.Enqueue(e.ctx, letter, "k1")
		require.NoError(t, err)
		_, err = e.q.Enqueue(e.ctx, letter, "k1")
		require.NoError(t, err)
		_, err = e.q.Enqueue(e.ctx, queue.Intake{Channel: queue.ChannelMailbox, Line: "l", Queue: "general", Text: "路灯坏了",
			Citizen: queue.Citizen{Address: "b@example.cn"}}, "")
		require.NoError(t, err)

		evs, err := s.Client(t).XRange(e.ctx, "{lianxin}:events", "-", "+").Result()
		require.NoError(t, err)
		var got []string
		for _, ev := range evs {
			if ev.Values["type"] == "alert" {
				got = append(got, ev.Values["contact"].(string)+" "+ev.Values["reason"].(string)+" "+ev.Values["text"].(string))
			}
		}
		require.Equal(t, []string{first.TrackingNo + " fire 家里着火了", first.TrackingNo + " fire 火越来越大",
			l1.TrackingNo + " gas 燃气泄漏"}, got)
	})
}
