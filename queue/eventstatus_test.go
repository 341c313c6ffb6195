package queue_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// The agent status events carry is one field, "astat", or with
// LegacyEvents the eight "a_" fields older versions read; a node reads both
// alike: the same lifecycle gives the same statuses either way, down to a
// reason holding the separator.
func TestEventStatusBothForms(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		type seen struct {
			typ    queue.EventType
			status queue.AgentStatus
			desk   string // "this desk" for its session, else as read
		}
		run := func(legacy bool) []seen {
			e := newEnv(t, s, func(o *queue.Options) { o.LegacyEvents = legacy })
			pos := e.position()
			sess := e.phoneAgent(e.q, "1001", general, map[queue.Channel]int{queue.ChannelMailbox: 2, queue.ChannelWeb: 1})
			tn := e.letter("general", "噪音扰民")
			e.requireOffered(tn, "1001")
			e.finish("1001", tn)
			require.NoError(t, e.q.SetPresence(e.ctx, "1001", sess.ID, queue.PresenceNotReady, "培训|training"))

			raw, err := s.Client(t).XRange(e.ctx, e.q.Prefix()+"events", "("+pos, "+").Result()
			require.NoError(t, err)
			var withStatus int
			for _, m := range raw {
				_, compact := m.Values["astat"]
				_, old := m.Values["a_state"]
				require.False(t, compact && old, "both forms in %v", m.Values)
				if compact || old {
					withStatus++
					require.Equal(t, legacy, old, "legacy %v: %v", legacy, m.Values)
				}
			}
			require.NotZero(t, withStatus)

			var out []seen
			for _, ev := range e.eventsSince(pos) {
				if ev.Status == nil {
					continue
				}
				desk := ev.Session
				if desk == sess.ID {
					desk = "this desk"
				}
				out = append(out, seen{ev.Type, *ev.Status, desk})
			}
			require.Len(t, out, withStatus)
			return out
		}
		compact, legacy := run(false), run(true)
		require.Equal(t, legacy, compact)

		// What the lifecycle's statuses say, so both forms are not merely
		// equally wrong.
		byType := map[queue.EventType]queue.AgentStatus{}
		for _, x := range compact {
			byType[x.typ] = x.status
		}
		require.Equal(t, queue.AgentState("offered"), byType[queue.EventOffered].State)
		require.Equal(t, map[queue.Channel]int{queue.ChannelMailbox: 1}, byType[queue.EventOffered].Load)
		require.True(t, byType[queue.EventOffered].Phone)
		require.Equal(t, queue.AgentState("busy"), byType[queue.EventAssigned].State)
		require.Equal(t, queue.AgentState("ready"), byType[queue.EventClosed].State)
		require.Empty(t, byType[queue.EventClosed].Load)
		require.Equal(t, "this desk", compact[len(compact)-1].desk)
		last := compact[len(compact)-1].status
		require.Equal(t, queue.PresenceNotReady, last.Presence)
		require.Equal(t, "培训|training", last.Reason)
		require.Equal(t, newClock().Now().Add(3*time.Second), last.Since, "the clock after connect, letter and finish")
	})
}

// EventStatus reads whatever an event's fields hold without a panic, and a
// status it reads in one form reads the same in the other.
func FuzzEventStatus(f *testing.F) {
	f.Add("busy|1796186668971|sms=1,web=2|0|1|ready|s1|")
	f.Add("not_ready|1796186668971||3||not_ready|s1|培训|training")
	f.Add("||||||")
	f.Add("offered|x|=,=1,sms=x|y|1|||")
	f.Fuzz(func(t *testing.T, astat string) {
		st, sess := queue.EventStatus(map[string]string{"astat": astat})
		if st == nil {
			require.Less(t, strings.Count(astat, "|"), 7)
			return
		}
		p := strings.SplitN(astat, "|", 8)
		old, oldSess := queue.EventStatus(map[string]string{"a_state": p[0], "a_since": p[1], "a_load": p[2],
			"a_misses": p[3], "a_phone": p[4], "a_presence": p[5], "a_sess": p[6], "a_reason": p[7]})
		require.Equal(t, old, st)
		require.Equal(t, oldSess, sess)
		require.Equal(t, p[7], st.Reason)
	})
}

// A contact offered as it is made (an agent free, nothing waiting) has one
// event, its offer, marked Joined; one that waits first has its queued
// event and a later offer that is not. With LegacyEvents the first also has
// the queued event older versions read, and its offer is not marked, so a
// reader counts each contact's joining once either way.
func TestJoinedOfferBothForms(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		for _, legacy := range []bool{false, true} {
			e := newEnv(t, s, func(o *queue.Options) { o.LegacyEvents = legacy })
			pos := e.position()
			e.agent(e.q, "1001", general, nil)
			direct := e.letter("general", "路灯不亮")
			e.requireOffered(direct, "1001")
			waited := e.letter("general", "夜间施工噪音") // the agent's one mailbox place is taken
			e.finish("1001", direct)
			e.requireOffered(waited, "1001")

			seen := map[string][]string{}
			joins := map[string]int{}
			for _, ev := range e.eventsSince(pos) {
				if ev.Type != queue.EventQueued && ev.Type != queue.EventOffered {
					continue
				}
				kind := string(ev.Type)
				if ev.Joined {
					kind += "+joined"
				}
				seen[ev.TrackingNo] = append(seen[ev.TrackingNo], kind)
				if ev.Type == queue.EventQueued || ev.Joined {
					joins[ev.TrackingNo]++
				}
			}
			if legacy {
				require.Equal(t, []string{"queued", "offered"}, seen[direct], "legacy")
			} else {
				require.Equal(t, []string{"offered+joined"}, seen[direct])
			}
			require.Equal(t, []string{"queued", "offered"}, seen[waited], "legacy %v", legacy)
			require.Equal(t, map[string]int{direct: 1, waited: 1}, joins, "legacy %v", legacy)
		}
	})
}
