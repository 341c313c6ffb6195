package archive_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/archive"
	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
)

// snapshot reads every entry of the stream (before any archiver trims it).
func (e *env) snapshot() []queue.StreamEntry {
	e.t.Helper()
	ms, err := e.rdb.XRange(e.ctx, "{lianxin}:events", "-", "+").Result()
	require.NoError(e.t, err)
	out := make([]queue.StreamEntry, len(ms))
	for i, m := range ms {
		f := map[string]string{}
		for k, v := range m.Values {
			f[k] = v.(string)
		}
		out[i] = queue.StreamEntry{ID: m.ID, Fields: f}
	}
	return out
}

// requireNothingLost checks that every entry of all that is gone from the
// stream is in PostgreSQL: the stream was never trimmed past the archive.
func (e *env) requireNothingLost(all []queue.StreamEntry) {
	e.t.Helper()
	ids := e.streamIDs()
	in := map[string]bool{}
	for _, id := range ids {
		in[id] = true
	}
	var gone []string
	for _, en := range all {
		if !in[en.ID] {
			gone = append(gone, en.ID)
		}
	}
	// Read the archive after the stream: whatever was trimmed before that
	// read was archived before it was trimmed.
	n := e.count(`SELECT count(*) FROM events WHERE id = ANY($1)`, gone)
	require.Equal(e.t, len(gone), n, "every entry trimmed from the stream is archived")
}

func (e *env) runArchiver(o archive.Options) *archive.Archiver {
	e.t.Helper()
	a := archive.NewArchiver(e.q, e.store, o)
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
	return a
}

// A day's contacts archived: every event once (a replayed batch writes
// nothing twice), every closed contact with its messages, outcome, rating and
// times; the stream trimmed below what is archived; closed contacts leave
// Redis after the retention, and the lookup and the history then read them
// from the archive.
func TestArchiveOnceTrimAndForget(t *testing.T) {
	e := newEnv(t)
	s, err := e.q.Connect(e.ctx, queue.Profile{ID: "1001", Name: "王芳", Skills: map[string]int{"general": 3},
		Capacity: map[queue.Channel]int{queue.ChannelSMS: 1}})
	require.NoError(t, err)
	require.NoError(t, e.q.SetPresence(e.ctx, "1001", s.ID, queue.PresenceReady, ""))
	var tns []string
	for i := range 6 {
		e.clock.Add(time.Minute)
		r, err := e.q.Receive(e.ctx, queue.Intake{Channel: queue.ChannelSMS, Line: "12345", Queue: "general",
			Text: "路灯坏了 " + strconv.Itoa(i), Citizen: queue.Citizen{Address: "+8613800001111", Phone: "+8613800001111"}}, "")
		require.NoError(t, err)
		tns = append(tns, r.TrackingNo)
		e.clock.Add(10 * time.Second)
		require.NoError(t, e.q.Accept(e.ctx, "1001", r.TrackingNo))
		require.NoError(t, e.q.AddMessage(e.ctx, r.TrackingNo, queue.Message{From: queue.FromAgent, Agent: "1001", Text: "收到"}))
		e.clock.Add(time.Minute)
		require.NoError(t, e.q.End(e.ctx, "1001", r.TrackingNo))
		e.clock.Add(30 * time.Second)
		// The follow-up's rating is a field another part writes on the hash.
		require.NoError(t, e.rdb.HSet(e.ctx, "{lianxin}:c:"+r.TrackingNo, "rating", "满意").Err())
		require.NoError(t, e.q.WrapUp(e.ctx, "1001", r.TrackingNo, queue.RequestHelp, queue.OutcomeDispatched, "转城管"))
	}
	all := e.snapshot()
	require.Greater(t, len(all), 6*5)

	a := e.runArchiver(archive.Options{Tidy: 50 * time.Millisecond, KeepEvents: -1, Retention: time.Hour, Now: e.clock.Now})
	require.Eventually(t, func() bool {
		e.requireNothingLost(all)
		return e.count(`SELECT count(*) FROM events`) == len(all)
	}, time.Minute, 50*time.Millisecond)
	require.Equal(t, 6, e.count(`SELECT count(*) FROM contacts`))
	// The stream is trimmed to what is not yet known to be archived (its
	// last delivered entry stays as the group's mark).
	require.Eventually(t, func() bool { e.requireNothingLost(all); return len(e.streamIDs()) <= 1 }, time.Minute, 50*time.Millisecond)

	// A replay of everything writes nothing twice.
	require.NoError(t, a.Archive(e.ctx, all))
	require.Equal(t, len(all), e.count(`SELECT count(*) FROM events`))
	require.Equal(t, 6, e.count(`SELECT count(*) FROM contacts`))
	require.Equal(t, len(all), e.count(`SELECT count(DISTINCT fields) FROM events`), "each entry's own fields")

	var outcome, rating, agent, hk, note string
	var talk, acw, wait float64
	var msgs int
	require.NoError(t, e.store.Pool().QueryRow(e.ctx, `SELECT outcome, rating, agent, history_key, contact->>'note',
		talk_seconds, acw_seconds, wait_seconds, jsonb_array_length(messages) FROM contacts WHERE tracking_no = $1`, tns[0]).
		Scan(&outcome, &rating, &agent, &hk, &note, &talk, &acw, &wait, &msgs))
	require.Equal(t, []any{"dispatched", "满意", "1001", "tel:+8613800001111", "转城管", 60.0, 30.0, 10.0, 1},
		[]any{outcome, rating, agent, hk, note, talk, acw, wait, msgs})

	// Within the retention the contacts stay in Redis; after it they go.
	a.Tidy(e.ctx)
	require.EqualValues(t, 1, e.rdb.Exists(e.ctx, "{lianxin}:c:"+tns[0]).Val())
	e.clock.Add(2 * time.Hour)
	require.Eventually(t, func() bool {
		keys, err := e.rdb.Keys(e.ctx, "{lianxin}:*").Result()
		require.NoError(t, err)
		for _, k := range keys {
			if strings.HasPrefix(k, "{lianxin}:c:") || strings.HasPrefix(k, "{lianxin}:m:") ||
				strings.HasPrefix(k, "{lianxin}:hist:") {
				return false
			}
		}
		return true
	}, time.Minute, 50*time.Millisecond, "closed contacts left Redis")

	// The lookup and the history read the archive.
	c, err := e.q.Contact(e.ctx, tns[2])
	require.NoError(t, err)
	require.Equal(t, queue.StateClosed, c.State)
	require.Equal(t, queue.OutcomeDispatched, c.Outcome)
	require.Equal(t, "路灯坏了 2", c.Text)
	_, err = e.q.Contact(e.ctx, "261130000000012")
	require.ErrorIs(t, err, queue.ErrNotFound)
	r, err := e.q.Receive(e.ctx, queue.Intake{Channel: queue.ChannelSMS, Line: "12345", Queue: "general",
		Text: "又坏了", Citizen: queue.Citizen{Address: "+8613800001111", Phone: "+8613800001111"}}, "")
	require.NoError(t, err)
	now, err := e.q.Contact(e.ctx, r.TrackingNo)
	require.NoError(t, err)
	h, err := e.q.History(e.ctx, now, 4)
	require.NoError(t, err)
	require.Len(t, h, 4)
	require.Equal(t, []string{tns[5], tns[4], tns[3], tns[2]}, []string{h[0].TrackingNo, h[1].TrackingNo, h[2].TrackingNo, h[3].TrackingNo})
	require.Equal(t, queue.OutcomeDispatched, h[0].Outcome)
}

// Entries a consumer took and never acknowledged (its node died) stay in the
// stream until another node takes them over and archives them.
func TestArchiveTakesOverDeadConsumer(t *testing.T) {
	e := newEnv(t)
	for i := range 40 {
		_, err := e.q.Enqueue(e.ctx, queue.Intake{Channel: queue.ChannelWeb, Line: "web", Queue: "general",
			Text: "问题 " + strconv.Itoa(i), Citizen: queue.Citizen{Address: "u" + strconv.Itoa(i)}}, "")
		require.NoError(t, err)
	}
	all := e.snapshot()
	require.Len(t, all, 40)
	require.NoError(t, e.q.JoinGroup(e.ctx, "archive"))
	taken, err := e.q.ReadGroup(e.ctx, "archive", "node-dead", 15, 0, false)
	require.NoError(t, err)
	require.Len(t, taken, 15)

	e.runArchiver(archive.Options{Tidy: 20 * time.Millisecond, KeepEvents: -1, ClaimIdle: 3 * time.Second})
	require.Eventually(t, func() bool {
		e.requireNothingLost(all)
		return e.count(`SELECT count(*) FROM events`) == 25
	}, time.Minute, 20*time.Millisecond)
	// The dead consumer's entries are still in the stream while pending.
	ids := e.streamIDs()
	require.Equal(t, taken[0].ID, ids[0], "not trimmed past the oldest unacknowledged entry")
	require.Eventually(t, func() bool {
		e.requireNothingLost(all)
		return e.count(`SELECT count(*) FROM events`) == 40
	}, time.Minute, 50*time.Millisecond, "taken over and archived")
	p, err := e.rdb.XPending(e.ctx, "{lianxin}:events", "archive").Result()
	require.NoError(t, err)
	require.Zero(t, p.Count)
	require.Eventually(t, func() bool { return len(e.streamIDs()) <= 1 }, time.Minute, 50*time.Millisecond)
}
