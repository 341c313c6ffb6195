package queue_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// closedAt is the ms of the id of each closed event in the stream, by contact.
func closedAt(t *testing.T, rdb *redis.Client) map[string]float64 {
	t.Helper()
	ms, err := rdb.XRange(context.Background(), "{lianxin}:events", "-", "+").Result()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, m := range ms {
		if m.Values["type"] != string(queue.EventClosed) {
			continue
		}
		tn := m.Values["contact"].(string)
		require.NotContains(t, out, tn, "closed twice")
		at, _, _ := strings.Cut(m.ID, "-")
		out[tn], err = strconv.ParseFloat(at, 64)
		require.NoError(t, err)
	}
	return out
}

// noted is the set "closed": the contacts noted for the retention, with
// their close times.
func noted(t *testing.T, rdb *redis.Client) map[string]float64 {
	t.Helper()
	zs, err := rdb.ZRangeWithScores(context.Background(), "{lianxin}:closed", 0, -1).Result()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, z := range zs {
		out[z.Member.(string)] = z.Score
	}
	return out
}

// groups are the consumer groups of the event stream.
func groups(t *testing.T, rdb *redis.Client) []string {
	t.Helper()
	gs, err := rdb.XInfoGroups(context.Background(), "{lianxin}:events").Result()
	require.NoError(t, err)
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

// forgetAll tidies with a retention of a millisecond (another node's handle
// on the same Redis): every contact noted before now leaves Redis.
func (e *env) forgetAll() queue.TidyResult {
	e.t.Helper()
	q, err := queue.New(e.srv.Client(e.t), queue.Options{NodeID: "node-z", Queues: testQueues,
		Retention: time.Millisecond, Now: e.clock.Now})
	require.NoError(e.t, err)
	time.Sleep(5 * time.Millisecond) // Redis's clock past the last close's ms and the retention
	tr, err := q.Tidy(e.ctx)
	require.NoError(e.t, err)
	return tr
}

// Without an archive, every way a contact closes notes it in the set
// "closed" at once, at its closed event's time (Redis's clock), with no
// consumer group reading the event stream: a letter wrapped up, a caller who
// hangs up while waiting or while an agent's phone rings, a call answered,
// ended and wrapped up, a callback given up, a call the IVR resolved. Tidy
// forgets them once their retention is over.
func TestClosesAreNotedForTheRetention(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s) // the default retention, a week
		rdb := s.Client(t)
		closed := map[string]string{}

		e.agent(e.q, "a1", general, nil)
		closed["letter wrapped up"] = e.letter("general", "噪音扰民")
		e.finish("a1", closed["letter wrapped up"])

		closed["abandoned waiting"] = e.call(e.q, "general", "+8613800138001")
		_, err := e.q.Hangup(e.ctx, closed["abandoned waiting"], "caller")
		require.NoError(t, err)

		e.phoneAgent(e.q, "a2", general, voiceOnly)
		closed["abandoned ringing"] = e.call(e.q, "general", "+8613800138002")
		e.requireOffered(closed["abandoned ringing"], "a2")
		_, err = e.q.Hangup(e.ctx, closed["abandoned ringing"], "caller")
		require.NoError(t, err)

		closed["call wrapped up"] = e.call(e.q, "general", "+8613800138003")
		require.NoError(t, e.q.Accept(e.ctx, "a2", closed["call wrapped up"]))
		_, err = e.q.Hangup(e.ctx, closed["call wrapped up"], "caller")
		require.NoError(t, err)
		require.Equal(t, queue.StateWrapUp, e.contact(closed["call wrapped up"]).State)
		require.NoError(t, e.q.WrapUp(e.ctx, "a2", closed["call wrapped up"], queue.RequestConsultation,
			queue.OutcomeResolved, ""))

		closed["callback failed"] = e.call(e.q, "general", "+8613800138004")
		require.NoError(t, e.q.RequestCallback(e.ctx, closed["callback failed"], "+8613800138004"))
		e.requireOffered(closed["callback failed"], "a2")
		require.NoError(t, e.q.Accept(e.ctx, "a2", closed["callback failed"]))
		require.NoError(t, e.q.FailCallback(e.ctx, "a2", closed["callback failed"], "回拨三次未接通"))

		r, err := e.q.ResolveCallByIVR(e.ctx, queue.Intake{Line: "12345", Queue: "general",
			Citizen: queue.Citizen{Address: "+8613800138005", Phone: "+8613800138005"}},
			queue.Call{ID: "ivr-1@trunk", Node: "node-a"})
		require.NoError(t, err)
		closed["resolved by the IVR"] = r.TrackingNo

		open := e.letter("general", "still open") // offered to a1, not closed: not noted

		at := closedAt(t, rdb)
		want := map[string]float64{}
		for path, tn := range closed {
			require.Equal(t, queue.StateClosed, e.contact(tn).State, path)
			require.Contains(t, at, tn, path)
			want[tn] = at[tn]
		}
		require.Equal(t, want, noted(t, rdb), "noted as they closed, at their closed events' times")
		now, err := rdb.Time(e.ctx).Result()
		require.NoError(t, err)
		for tn, ms := range want {
			require.InDelta(t, float64(now.UnixMilli()), ms, float64(time.Minute.Milliseconds()),
				"%s: Redis's clock, not the queue's (%v)", tn, e.clock.Now())
		}

		tr, err := e.q.Tidy(e.ctx)
		require.NoError(t, err)
		require.Equal(t, queue.TidyResult{Dropped: map[string]int64{}}, tr, "within the retention, nothing goes")
		require.NotContains(t, groups(t, rdb), "retention", "no consumer group reads the stream for the retention")
		require.Equal(t, want, noted(t, rdb))
		if s.Name == "redis-server" {
			errs, err := rdb.Info(e.ctx, "errorstats").Result()
			require.NoError(t, err)
			require.NotContains(t, errs, "NOGROUP", "Tidy looks for a leftover group without failing commands")
		}

		tr = e.forgetAll()
		require.Equal(t, len(closed), tr.Forgotten)
		for path, tn := range closed {
			_, err := e.q.Contact(e.ctx, tn)
			require.ErrorIs(t, err, queue.ErrNotFound, path)
		}
		require.Empty(t, noted(t, rdb))
		require.Equal(t, queue.StateOffered, e.contact(open).State)
		require.NotContains(t, groups(t, rdb), "retention")
	})
}

// With an archive (it forgets the contacts it archived), or a retention of
// for ever, the scripts note nothing.
func TestClosesAreNotNotedWithoutRetention(t *testing.T) {
	for name, mod := range map[string]func(*queue.Options){
		"archive":  func(o *queue.Options) { o.Archive = noArchive{} },
		"for ever": func(o *queue.Options) { o.Retention = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			s := queuetest.RedisServer(t)
			e := newEnv(t, s, mod)
			rdb := s.Client(t)
			e.agent(e.q, "a1", general, nil)
			tn := e.letter("general", "噪音扰民")
			e.finish("a1", tn)
			require.Equal(t, queue.StateClosed, e.contact(tn).State)
			require.Contains(t, closedAt(t, rdb), tn)
			require.Empty(t, noted(t, rdb))
			_, err := e.q.Tidy(e.ctx)
			require.NoError(t, err)
			require.Empty(t, noted(t, rdb))
			require.Equal(t, queue.StateClosed, e.contact(tn).State)
		})
	}
}

// noArchive is an archive that holds nothing.
type noArchive struct{}

func (noArchive) ArchivedContact(context.Context, string) (*queue.Contact, error) {
	return nil, queue.ErrNotFound
}

func (noArchive) ArchivedHistory(context.Context, string, int) ([]queue.Summary, error) {
	return nil, nil
}

// A node upgraded from a version whose Tidy noted closed contacts through
// the consumer group "retention" takes over what that group had not
// acknowledged (read and pending, or not read yet), so those contacts still
// leave Redis after their retention; then it removes the group, which would
// otherwise hold the stream's trimming back. Other groups stay.
func TestTidyDrainsALeftoverRetentionGroup(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		rdb := s.Client(t)
		// The old version's closes were not noted by its scripts (as a
		// node's with a retention of for ever are not); its Tidy read them.
		old, err := queue.New(rdb, queue.Options{NodeID: "node-old", Queues: testQueues, Retention: -1,
			Now: e.clock.Now})
		require.NoError(t, err)
		require.NoError(t, old.JoinGroup(e.ctx, "retention"))
		require.NoError(t, old.JoinGroup(e.ctx, "desk"))
		e.agent(old, "a1", general, nil)
		var tns []string
		closeOne := func() {
			tn := e.letter("general", "来信")
			require.NoError(t, old.Accept(e.ctx, "a1", tn))
			require.NoError(t, old.WrapUp(e.ctx, "a1", tn, queue.RequestConsultation, queue.OutcomeResolved, ""))
			tns = append(tns, tn)
		}
		closeOne()
		closeOne()
		acked, err := old.ReadGroup(e.ctx, "retention", "tidy", 1000, -1, false)
		require.NoError(t, err)
		require.NotEmpty(t, acked)
		require.NoError(t, old.Ack(e.ctx, "retention", acked[0].ID)) // the rest stay pending
		closeOne()
		closeOne()
		closeOne() // not read by the group yet
		require.Empty(t, noted(t, rdb))

		tr, err := e.q.Tidy(e.ctx)
		require.NoError(t, err)
		require.Equal(t, len(tns), tr.Noted)
		at := closedAt(t, rdb)
		want := map[string]float64{}
		for _, tn := range tns {
			want[tn] = at[tn]
		}
		require.Equal(t, want, noted(t, rdb), "noted at their closed events' times")
		require.Equal(t, []string{"desk"}, groups(t, rdb), "the retention group is gone, the others stay")

		tr, err = e.q.Tidy(e.ctx)
		require.NoError(t, err)
		require.Zero(t, tr.Noted)
		require.Equal(t, len(tns), e.forgetAll().Forgotten)
		for _, tn := range tns {
			_, err := e.q.Contact(e.ctx, tn)
			require.ErrorIs(t, err, queue.ErrNotFound)
		}
	})
}
