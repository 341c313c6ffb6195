package archive_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/archive"
	"github.com/lianxin/lianxin/archive/pgtest"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// closeContacts runs n SMS contacts through intake, answer and wrap-up.
func closeContacts(t *testing.T, e *env, agent string, from, n int) {
	for i := from; i < from+n; i++ {
		who := fmt.Sprintf("+86139%08d", i)
		r, err := e.q.Receive(e.ctx, queue.Intake{Channel: queue.ChannelSMS, Line: "12345", Queue: "general",
			Text: "路灯不亮", Citizen: queue.Citizen{Address: who, Phone: who}}, "")
		require.NoError(t, err)
		require.NoError(t, e.q.Accept(e.ctx, agent, r.TrackingNo))
		require.NoError(t, e.q.WrapUp(e.ctx, agent, r.TrackingNo, queue.RequestHelp, queue.OutcomeResolved, ""))
	}
}

// lagAlerts lists the archive_lag alerts in the event stream.
func lagAlerts(t *testing.T, e *env) []string {
	var out []string
	for _, en := range e.snapshot() {
		if en.Fields["type"] == string(queue.EventAlert) && en.Fields["reason"] == "archive_lag" {
			out = append(out, en.Fields["text"])
		}
	}
	return out
}

// TestArchiveWhilePostgresIsDown: a node starts with PostgreSQL stopped
// (archive.OpenBackground): contacts are taken and closed, the events wait
// in the stream (nothing trimmed), the lag grows and raises one archive_lag
// alert; once PostgreSQL is up, everything is archived and the lag is 0.
// Then PostgreSQL stops while archiving: a second alert, and after it comes
// back, everything again.
func TestArchiveWhilePostgresIsDown(t *testing.T) {
	e := &env{t: t, ctx: t.Context(), clock: &clock{t: time.Now()}}
	e.redis = queuetest.RedisServer(t)
	e.rdb = e.redis.Client(t)
	e.pg = pgtest.Start(t)
	e.pg.Pause(t)
	st, err := archive.OpenBackground(e.ctx, e.pg.URL, 100*time.Millisecond, nil)
	require.NoError(t, err, "the node starts without PostgreSQL")
	t.Cleanup(st.Close)
	e.store = st
	e.q = e.queue("node-a")
	s, err := e.q.Connect(e.ctx, queue.Profile{ID: "1001", Name: "1001", Skills: map[string]int{"general": 3},
		Capacity: map[queue.Channel]int{queue.ChannelSMS: 1}})
	require.NoError(t, err)
	require.NoError(t, e.q.SetPresence(e.ctx, "1001", s.ID, queue.PresenceReady, ""))

	a := e.runArchiver(archive.Options{KeepEvents: -1, Tidy: 100 * time.Millisecond, LagAlert: 2 * time.Second,
		LagCheck: 100 * time.Millisecond, ClaimIdle: time.Second,
		Alert: func(ctx context.Context, text string) error { return e.q.Alert(ctx, "", "archive_lag", text) }})
	closeContacts(t, e, "1001", 0, 20)
	var lag int64
	require.Eventually(t, func() bool { return len(lagAlerts(t, e)) > 0 }, time.Minute, 100*time.Millisecond,
		"the lag raises an alert")
	lag, age, err := a.Lag(e.ctx)
	require.NoError(t, err)
	t.Logf("PostgreSQL down at start: lag %d entries, %v; alert %q", lag, age, lagAlerts(t, e)[0])
	require.Positive(t, lag)
	require.GreaterOrEqual(t, age, 2*time.Second)
	require.True(t, strings.HasPrefix(lagAlerts(t, e)[0], "归档滞后："))
	before := e.snapshot()
	require.Len(t, lagAlerts(t, e), 1, "one alert")
	require.EqualValues(t, len(before), lag, "nothing trimmed: every entry (the alert too) waits")

	e.pg.Resume(t)
	select {
	case <-st.Ready():
	case <-time.After(time.Minute):
		t.Fatal("the archive is not ready a minute after PostgreSQL came back")
	}
	require.Eventually(t, func() bool { n, _, _ := a.Lag(e.ctx); return n == 0 }, time.Minute, 100*time.Millisecond)
	require.Equal(t, 20, e.count(`SELECT count(*) FROM contacts`))
	e.requireNothingLost(before)
	ids := make([]string, len(before))
	for i, en := range before {
		ids[i] = en.ID
	}
	require.Equal(t, len(before), e.count(`SELECT count(*) FROM events WHERE id = ANY($1)`, ids))

	// PostgreSQL goes away while archiving.
	e.pg.Pause(t)
	closeContacts(t, e, "1001", 20, 10)
	require.Eventually(t, func() bool { return len(lagAlerts(t, e)) == 2 }, time.Minute, 100*time.Millisecond,
		"a second alert once it caught up and fell behind again")
	lag, _, err = a.Lag(e.ctx)
	require.NoError(t, err)
	require.Positive(t, lag)
	e.pg.Resume(t)
	require.Eventually(t, func() bool { n, _, _ := a.Lag(e.ctx); return n == 0 }, 2*time.Minute, 100*time.Millisecond)
	require.Equal(t, 30, e.count(`SELECT count(*) FROM contacts`))
	e.requireNothingLost(before)
}
