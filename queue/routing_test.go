package queue_test

import (
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

func TestOfferToReadyAgent(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.agent(e.q, "1001", general, nil)
		tn := e.letter("general", "路灯坏了")
		e.requireOffered(tn, "1001")
		require.True(t, queue.ValidTrackingNo(tn), tn)
		require.Equal(t, 1, e.contact(tn).Offers)
	})
}

func TestPriorityThenAge(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		old := e.letter("general", "old")
		newer := e.letter("general", "newer")
		urgent := e.letter("enterprise", "enterprise, higher priority, newest")
		raised := e.enqueue(queue.Intake{Channel: queue.ChannelMailbox, Queue: "general", Priority: 9, Subject: "emergency words"})
		e.agent(e.q, "1001", map[string]int{"general": 3, "enterprise": 3}, nil)
		var got []string
		for range 4 {
			st, err := e.q.Connect(e.ctx, queue.Profile{ID: "1001", Skills: map[string]int{"general": 3, "enterprise": 3},
				Capacity: map[queue.Channel]int{queue.ChannelMailbox: 1}})
			require.NoError(t, err)
			require.Len(t, st.Offers, 1)
			got = append(got, st.Offers[0].TrackingNo)
			e.finish("1001", st.Offers[0].TrackingNo)
		}
		require.Equal(t, []string{raised, urgent, old, newer}, got)
	})
}

func TestLongestIdleAgentFirst(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.agent(e.q, "1001", general, nil)
		e.agent(e.q, "1002", general, nil)
		e.agent(e.q, "1003", general, nil)
		a := e.letter("general", "a")
		e.requireOffered(a, "1001")
		e.finish("1001", a) // 1001 is now the most recently idle
		b := e.letter("general", "b")
		e.requireOffered(b, "1002")
		c := e.letter("general", "c")
		e.requireOffered(c, "1003")
		e.finish("1003", c)
		e.finish("1002", b)
		d := e.letter("general", "d")
		e.requireOffered(d, "1001")
	})
}

func TestSkills(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.agent(e.q, "1001", general, nil) // longest idle, but not skilled for enterprise
		e.agent(e.q, "1002", map[string]int{"enterprise": 5}, nil)
		ent := e.letter("enterprise", "企业用地")
		e.requireOffered(ent, "1002")
		lab := e.letter("labour", "欠薪")
		e.requireWaiting(lab) // nobody has the labour skill
		e.agent(e.q, "1003", map[string]int{"labour": 2}, nil)
		e.requireOffered(lab, "1003")
	})
}

func TestCapacityPerChannel(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.agent(e.q, "1001", general, map[queue.Channel]int{queue.ChannelMailbox: 2, queue.ChannelSMS: 1, queue.ChannelVoice: 1})
		require.NoError(t, e.q.SetPhone(e.ctx, "1001", e.clock.Now().Add(time.Hour))) // calls need a phone
		m1, m2, m3 := e.letter("general", "1"), e.letter("general", "2"), e.letter("general", "3")
		e.requireOffered(m1, "1001")
		e.requireOffered(m2, "1001")
		e.requireWaiting(m3)
		sms := e.enqueue(queue.Intake{Channel: queue.ChannelSMS, Queue: "general", Text: "短信"})
		e.requireOffered(sms, "1001")
		wc := e.enqueue(queue.Intake{Channel: queue.ChannelWeChat, Queue: "general", Text: "微信"})
		e.requireWaiting(wc) // no wechat capacity
		// Letters in hand do not keep a call away...
		call := e.enqueue(queue.Intake{Channel: queue.ChannelVoice, Queue: "general"})
		e.requireOffered(call, "1001")
		// ...but a call keeps everything else away until it is wrapped up.
		e.finish("1001", m1)
		e.requireWaiting(m3)
		e.finish("1001", call)
		e.requireOffered(m3, "1001")
	})
}

func TestOfferExpiresAndReturnsToItsPlace(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s, func(o *queue.Options) { o.MaxMisses = 2 })
		sess := e.agent(e.q, "1001", general, nil)
		first := e.letter("general", "first")
		second := e.letter("general", "second")
		e.requireOffered(first, "1001")
		e.requireWaiting(second)

		e.clock.Add(17 * time.Second) // 19 s after the offer
		r, err := e.q.Sweep(e.ctx)
		require.NoError(t, err)
		require.Equal(t, 0, r.Expired, "not yet expired")

		e.clock.Add(2 * time.Second)
		r, err = e.q.Sweep(e.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, r.Expired)
		// Back at its old place, ahead of the newer contact: offered again first.
		e.requireOffered(first, "1001")
		require.Equal(t, 2, e.contact(first).Offers)
		e.requireWaiting(second)

		e.clock.Add(21 * time.Second)
		_, err = e.q.Sweep(e.ctx)
		require.NoError(t, err)
		// Two misses in a row: not ready, and nothing is offered.
		e.requireWaiting(first)
		e.requireWaiting(second)
		st := agentState(t, e, "1001")
		require.Equal(t, queue.AgentNotReady, st)

		require.NoError(t, e.q.SetPresence(e.ctx, "1001", sess.ID, queue.PresenceReady, ""))
		e.requireOffered(first, "1001")
	})
}

func TestRejectReturnsToOldPlace(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.agent(e.q, "1001", general, nil)
		a := e.letter("general", "a")
		b := e.letter("general", "b")
		e.requireOffered(a, "1001")
		require.NoError(t, e.q.Reject(e.ctx, "1001", a))
		// The rejecting agent is not offered the same contact again at once,
		// but takes the one behind it; the rejected one keeps its place.
		e.requireWaiting(a)
		e.requireOffered(b, "1001")
		e.agent(e.q, "1002", general, nil)
		e.requireOffered(a, "1002")

		require.ErrorIs(t, e.q.Reject(e.ctx, "1001", a), queue.ErrNotYours)
		require.ErrorIs(t, e.q.Accept(e.ctx, "1001", a), queue.ErrNotYours)
		require.ErrorIs(t, e.q.Accept(e.ctx, "1001", "2611260999992"), queue.ErrNotFound)
	})
}

func TestRejectedAgentGetsItBackWhenAloneAfterTheSkipWindow(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.agent(e.q, "1001", general, nil)
		a := e.letter("general", "a")
		require.NoError(t, e.q.Reject(e.ctx, "1001", a))
		e.requireWaiting(a)
		e.clock.Add(21 * time.Second)
		_, err := e.q.Sweep(e.ctx)
		require.NoError(t, err)
		e.requireOffered(a, "1001")
	})
}

func TestAcceptAfterExpiryFails(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		e.agent(e.q, "1001", general, nil)
		a := e.letter("general", "a")
		sess2, err := e.q.Connect(e.ctx, queue.Profile{ID: "1001", Skills: general}) // capacity 0: no re-offer
		require.NoError(t, err)
		_ = sess2
		e.clock.Add(25 * time.Second)
		_, err = e.q.Sweep(e.ctx)
		require.NoError(t, err)
		require.ErrorIs(t, e.q.Accept(e.ctx, "1001", a), queue.ErrWrongState)
	})
}

func agentState(t *testing.T, e *env, id string) queue.AgentState {
	t.Helper()
	stats, err := e.q.Stats(e.ctx)
	require.NoError(t, err)
	for _, s := range stats {
		if s.Name != "general" {
			continue
		}
		for st, n := range s.Agents {
			if n > 0 && st != queue.AgentLoggedOut {
				return st
			}
		}
	}
	return queue.AgentLoggedOut
}

// Offers made together and expiring together are one miss, not one per
// contact; the next moment missed counts again.
func TestOffersExpiringTogetherAreOneMiss(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s, func(o *queue.Options) { o.MaxMisses = 2 })
		letters := []string{e.letter("general", "a"), e.letter("general", "b"), e.letter("general", "c")}
		// Ready with room for three letters: all three are offered at once.
		e.agent(e.q, "1001", general, map[queue.Channel]int{queue.ChannelMailbox: 3})
		for _, tn := range letters {
			e.requireOffered(tn, "1001")
		}

		e.clock.Add(20 * time.Second)
		require.Equal(t, 3, e.sweep().Expired)
		st, err := e.q.Status(e.ctx, "1001")
		require.NoError(t, err)
		require.Equal(t, 1, st.Misses, "three offers that expired together are one miss")
		require.Equal(t, queue.AgentOffered, st.State, "still ready, and offered the three again")
		for _, tn := range letters {
			e.requireOffered(tn, "1001")
		}

		// Missed again, a moment later: a second miss, and with max_misses 2
		// the agent is not ready.
		e.clock.Add(20 * time.Second)
		require.Equal(t, 3, e.sweep().Expired)
		st, err = e.q.Status(e.ctx, "1001")
		require.NoError(t, err)
		require.Equal(t, 2, st.Misses)
		require.Equal(t, queue.AgentNotReady, st.State)
		require.Equal(t, "missed_offers", st.Reason)
		for _, tn := range letters {
			e.requireWaiting(tn)
		}
	})
}

// Offers expiring a few hundred milliseconds apart, swept one by one, are
// still one miss.
func TestOffersExpiringWithinASecondAreOneMiss(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s, func(o *queue.Options) { o.MaxMisses = 2 })
		e.agent(e.q, "1001", general, map[queue.Channel]int{queue.ChannelMailbox: 2})
		a := e.letter("general", "a") // offered at once; the clock moves 1 s
		e.requireOffered(a, "1001")
		e.clock.Add(-500 * time.Millisecond)
		b := e.letter("general", "b") // offered 0.5 s after a
		e.requireOffered(b, "1001")

		e.clock.Add(20*time.Second - 1500*time.Millisecond) // a's deadline, not b's
		require.Equal(t, 1, e.sweep().Expired)
		e.clock.Add(500 * time.Millisecond)
		require.Equal(t, 1, e.sweep().Expired)
		st, err := e.q.Status(e.ctx, "1001")
		require.NoError(t, err)
		require.Equal(t, 1, st.Misses, "two offers expiring half a second apart are one miss")
		require.Equal(t, queue.AgentOffered, st.State)
	})
}

// Contacts that waited before the heads of the queues with work were kept
// (hd:, an upgrade from an earlier version) are found by an agent who frees
// up once a sweep has built the heads; the sweep rebuilds them once.
func TestHeadsBuiltAfterAnUpgrade(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		rdb := s.Client(t)
		e.agent(e.q, "1001", general, map[queue.Channel]int{queue.ChannelMailbox: 1})
		first, waiting := e.letter("general", "1"), e.letter("general", "2")
		e.requireOffered(first, "1001")
		require.NoError(t, e.q.Accept(e.ctx, "1001", first))
		e.requireWaiting(waiting)
		// As an earlier version left it: no heads, never built.
		require.NoError(t, rdb.Del(e.ctx, "{lianxin}:hd:mailbox", "{lianxin}:hd:built").Err())
		_, err := e.q.Sweep(e.ctx)
		require.NoError(t, err)
		n, err := rdb.Exists(e.ctx, "{lianxin}:hd:built").Result()
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		e.finish("1001", first)
		e.requireOffered(waiting, "1001")
	})
}
