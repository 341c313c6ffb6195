package archive_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lianxin/lianxin/archive"
	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
)

// lifecycles runs n contacts through intake, answer and wrap-up on
// workers goroutines (each with an agent of its own), at most rate a
// second overall (0: as fast as it goes). Each makes about six events.
func lifecycles(b testing.TB, e *env, n, workers int, rate float64) {
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		id := fmt.Sprintf("b%03d", w)
		s, err := e.q.Connect(e.ctx, queue.Profile{ID: id, Name: id, Skills: map[string]int{"w" + id: 3},
			Capacity: map[queue.Channel]int{queue.ChannelSMS: 1}})
		require.NoError(b, err)
		require.NoError(b, e.q.SetPresence(e.ctx, id, s.ID, queue.PresenceReady, ""))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if rate > 0 {
					if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
						time.Sleep(d)
					}
				}
				who := fmt.Sprintf("+86139%08d", i)
				r, err := e.q.Receive(e.ctx, queue.Intake{Channel: queue.ChannelSMS, Line: "12345", Queue: "w" + id,
					Text: "小区停水两天了，什么时候恢复？", Citizen: queue.Citizen{Address: who, Phone: who}}, "")
				if err != nil {
					b.Error(err)
					return
				}
				if err := e.q.Accept(e.ctx, id, r.TrackingNo); err != nil {
					b.Error(err)
					return
				}
				if err := e.q.WrapUp(e.ctx, id, r.TrackingNo, queue.RequestHelp, queue.OutcomeResolved, ""); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func benchQueues(workers int) []queue.Def {
	defs := make([]queue.Def, workers)
	for w := range defs {
		defs[w] = queue.Def{Name: fmt.Sprintf("wb%03d", w)}
	}
	return defs
}

func benchEnv(b *testing.B, workers int) *env {
	e := newEnv(b)
	q, err := queue.New(e.rdb, queue.Options{NodeID: "node-a", Queues: benchQueues(workers), EventsMaxLen: -1,
		Archive: e.store})
	require.NoError(b, err)
	e.q = q
	return e
}

// BenchmarkArchiveThroughput: events a second one archiver copies into
// PostgreSQL from a stream already full (contacts' whole lifecycles, so
// every closed contact is written too).
//
//	go test -run '^$' -bench BenchmarkArchiveThroughput -benchtime 1x ./archive
func BenchmarkArchiveThroughput(b *testing.B) {
	const contacts, workers = 5000, 8
	e := benchEnv(b, workers)
	lifecycles(b, e, contacts, workers, 0)
	events, err := e.rdb.XLen(e.ctx, "{lianxin}:events").Result()
	require.NoError(b, err)
	b.ResetTimer()
	start := time.Now()
	e.runArchiver(archive.Options{KeepEvents: -1})
	for e.count(`SELECT count(*) FROM events`) < int(events) {
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	b.StopTimer()
	require.Equal(b, contacts, e.count(`SELECT count(*) FROM contacts`))
	b.ReportMetric(float64(events)/took.Seconds(), "events/s")
	b.ReportMetric(float64(contacts)/took.Seconds(), "contacts/s")
	b.Logf("%d events of %d contacts archived in %v", events, contacts, took.Round(time.Millisecond))
}

// BenchmarkArchiveLag: contacts' lifecycles at a fixed rate (2,000 a
// second, as asked; the harness says what it reached) with the archiver
// running: how far behind the stream it runs, in entries and in time.
//
//	go test -run '^$' -bench BenchmarkArchiveLag -benchtime 1x ./archive
func BenchmarkArchiveLag(b *testing.B) {
	const rate, seconds, workers = 2000.0, 10, 16
	e := benchEnv(b, workers)
	require.NoError(b, e.q.JoinGroup(e.ctx, "archive"))
	e.runArchiver(archive.Options{KeepEvents: -1, Tidy: time.Second})
	var maxLag int64
	var maxAge time.Duration
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			lag, age := lagOf(e)
			maxLag, maxAge = max(maxLag, lag), max(maxAge, age)
		}
	}()
	b.ResetTimer()
	start := time.Now()
	lifecycles(b, e, int(rate*seconds), workers, rate)
	produced := time.Since(start)
	for {
		if lag, _ := lagOf(e); lag == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	drained := time.Since(start)
	close(stop)
	<-sampled
	b.StopTimer()
	events := e.count(`SELECT count(*) FROM events`)
	b.ReportMetric(rate*seconds/produced.Seconds(), "contacts/s-offered")
	b.ReportMetric(float64(events)/produced.Seconds(), "events/s-offered")
	b.ReportMetric(float64(maxLag), "max-lag-entries")
	b.ReportMetric(maxAge.Seconds(), "max-lag-s")
	b.Logf("%d contacts in %v (%.0f/s), %d events; archive caught up %v after the start; max lag %d entries, %v",
		int(rate*seconds), produced.Round(time.Millisecond), rate*seconds/produced.Seconds(), events,
		drained.Round(time.Millisecond), maxLag, maxAge.Round(time.Millisecond))
}

// lagOf is how many entries of the stream the archive group has not yet
// acknowledged, and the age of the oldest of them.
func lagOf(e *env) (int64, time.Duration) {
	ctx := context.Background()
	floor, err := e.q.ArchivedFloor(ctx, "archive")
	if err != nil || floor == "" {
		return 0, 0
	}
	p, _ := e.rdb.XPending(ctx, "{lianxin}:events", "archive").Result()
	var pending int64
	var oldest string
	if p != nil {
		pending, oldest = p.Count, p.Lower
	}
	groups, err := e.rdb.XInfoGroups(ctx, "{lianxin}:events").Result()
	if err != nil || len(groups) == 0 {
		return 0, 0
	}
	undelivered := groups[0].Lag
	if oldest == "" && undelivered > 0 {
		next, err := e.rdb.XRangeN(ctx, "{lianxin}:events", "("+groups[0].LastDeliveredID, "+", 1).Result()
		if err == nil && len(next) > 0 {
			oldest = next[0].ID
		}
	}
	var age time.Duration
	if oldest != "" {
		age = time.Since(queue.StreamEntry{ID: oldest}.At())
	}
	return pending + undelivered, age
}

// BenchmarkMonthReport: the report of a month of 900,000 archived contacts
// (the seed's surge month) and the agent states of their handling, and the
// query plans of its two statements.
//
//	go test -run '^$' -bench BenchmarkMonthReport -benchtime 3x ./archive
func BenchmarkMonthReport(b *testing.B) {
	e := newEnv(b)
	ctx := e.ctx
	pool := e.store.Pool()
	month, err := archive.ParsePeriod(archive.Month, "2026-11")
	require.NoError(b, err)
	start := time.Now()
	// 900,000 contacts over November (China time), and 100,000 in the
	// months around it, on every channel, 300 agents.
	_, err = pool.Exec(ctx, `INSERT INTO contacts (tracking_no, channel, line, line_name, queue, mailbox_level,
		district, request_type, outcome, agent, history_key, rating, received_at, queued_at, offered_at, answered_at,
		ended_at, closed_at, wait_seconds, talk_seconds, hold_seconds, acw_seconds, abandoned, callback, contact,
		fields, messages)
	SELECT lpad(i::text, 15, '0'), ch, line, '', q, lvl, d, rt, oc, ag, 'tel:' || (i % 400000), rating,
		t, t, t, ans, coalesce(ans + interval '3 minutes', t + make_interval(secs => w)),
		coalesce(ans + interval '4 minutes', t + make_interval(secs => w)), w, 150 + i % 120, i % 7, 30 + i % 40,
		oc = 'abandoned', false, jsonb_build_object('text', txt), '{}', '[]'
	FROM (
		SELECT i, ch, q, lvl, d, rt, ag, rating,
			-- what the citizen said: 13 districts × 10 places × 12 problems, and a closing phrase
			d || (ARRAY['玉林北路','建设北路二段','天府三街','蓝湾国际小区','春熙路','沙湾路','双楠小区','光华大道','府河边','驿都大道'])[1 + (i / 7) % 10]
				|| (ARRAY['停水两天了','有很重的燃气味','夜间施工噪音扰民','电梯停运一周','路灯不亮','垃圾没人清运','占道经营','积水严重',
					'公交站牌损坏','违章停车堵路口','宠物扰民','油烟扰民'])[1 + (i / 11) % 12]
				|| '，' || (ARRAY['请尽快处理','希望有关部门管一管','已经反映过多次','老人小孩出行不便','影响休息','电话13800138000'])[1 + i % 6] AS txt,
			CASE WHEN ch = 'mailbox' THEN 'cd-dist-' || (i % 300) WHEN ch = 'voice' THEN (ARRAY['12345','12315','12333'])[1 + i % 3] ELSE ch END AS line,
			CASE WHEN ch = 'voice' AND i % 9 = 0 THEN 'abandoned' ELSE (ARRAY['resolved','dispatched','resolved','invalid','transferred_110','duplicate'])[1 + i % 6] END AS oc,
			t, w, CASE WHEN ch = 'voice' AND i % 9 = 0 THEN NULL ELSE t + make_interval(secs => w) END AS ans
		FROM (
			SELECT i,
				(ARRAY['voice','voice','voice','voice','sms','wechat','mailbox','web','110-transfer'])[1 + i % 9] AS ch,
				(ARRAY['general','general','consumer','enterprise','labour','housing','transport','water_power'])[1 + i % 8] AS q,
				CASE WHEN i % 9 = 6 THEN (ARRAY['city','district','department','town'])[1 + i % 4] ELSE '' END AS lvl,
				(ARRAY['锦江区','青羊区','金牛区','武侯区','成华区','龙泉驿区','青白江区','新都区','温江区','双流区','郫都区','新津区',''])[1 + i % 13] AS d,
				(ARRAY['consultation','help','complaint','report','suggestion','praise','other'])[1 + i % 7] AS rt,
				'a' || (i % 300) AS ag,
				(ARRAY['满意','基本满意','不满意','','满意'])[1 + i % 5] AS rating,
				$1::timestamptz + i * interval '2880 milliseconds' + (i % 97) * interval '1 second' AS t,
				(i % 60)::float8 AS w
			FROM generate_series(0, 999999) AS i
		) x
	) y`, month.Start.Add(-36*time.Hour))
	require.NoError(b, err)
	// Agent states: each contact answered moves its agent ready → offered
	// → busy → wrap-up → ready.
	_, err = pool.Exec(ctx, `INSERT INTO events (id, at, type, contact, agent, node, agent_state, agent_since, fields)
	SELECT c.tracking_no || '-' || k, s, 'agent', c.tracking_no, c.agent, 'n', st, s, '{}'
	FROM contacts c, LATERAL (VALUES (1, 'offered', c.queued_at), (2, 'busy', c.answered_at),
		(3, 'wrap_up', c.ended_at), (4, 'ready', c.closed_at)) AS v(k, st, s)
	WHERE c.answered_at IS NOT NULL`)
	require.NoError(b, err)
	_, err = pool.Exec(ctx, `VACUUM ANALYZE`) // as autovacuum would have by then
	require.NoError(b, err)
	var inMonth, events int
	require.NoError(b, pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE received_at >= $1 AND received_at < $2`,
		month.Start, month.End).Scan(&inMonth))
	require.NoError(b, pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&events))
	b.Logf("archive filled in %v: %d contacts in the month, %d agent-state events", time.Since(start).Round(time.Second), inMonth, events)

	for _, q := range []struct{ name, sql string }{{"report", archive.ReportSQL}, {"occupancy", archive.OccupancySQL},
		{"common problems", archive.ProblemsSQL}} {
		args := []any{month.Start, month.End}
		switch q.name {
		case "report":
			args = append(args, map[string]float64{"voice": 20, "sms": 600}, []string{"dispatched"}, []string{"满意", "基本满意"})
		case "common problems":
			args = append(args, (inMonth+archive.ProblemsSampleAbove-1)/archive.ProblemsSampleAbove)
		}
		tx, err := pool.Begin(ctx)
		require.NoError(b, err)
		_, err = tx.Exec(ctx, `SET LOCAL work_mem = '256MB'; SET LOCAL jit = off`)
		require.NoError(b, err)
		rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q.sql, args...)
		require.NoError(b, err)
		var plan []string
		for rows.Next() {
			var line string
			require.NoError(b, rows.Scan(&line))
			plan = append(plan, line)
		}
		require.NoError(b, rows.Err())
		require.NoError(b, tx.Rollback(ctx))
		// Printed whole: a benchmark's log is cut after a few lines.
		fmt.Fprintf(os.Stderr, "EXPLAIN (ANALYZE, BUFFERS) of the %s query:\n%s\n\n", q.name, strings.Join(plan, "\n"))
	}
	// The common problems alone: reading one contact in k and grouping them.
	t0 := time.Now()
	problems, read, every, err := e.store.CommonProblems(ctx, month, inMonth)
	require.NoError(b, err)
	b.Logf("common problems alone: %v, %d contacts read (one in %d), %d groups, the largest %q (%d)",
		time.Since(t0).Round(time.Millisecond), read, every, len(problems), problems[0].Label, problems[0].Count)
	// The report without the common problems, for comparison (same load).
	keep := archive.ProblemsMax
	archive.ProblemsMax = 0
	t0 = time.Now()
	r, err := e.store.Compute(ctx, month, nil)
	require.NoError(b, err)
	require.Empty(b, r.CommonProblems)
	without := time.Since(t0)
	archive.ProblemsMax = keep
	b.ResetTimer()
	t0 = time.Now()
	for range b.N {
		r, err := e.store.Compute(ctx, month, nil)
		require.NoError(b, err)
		require.Equal(b, inMonth, r.Total.Received)
		require.NotEmpty(b, r.CommonProblems)
	}
	b.Logf("the month's report: %v without the common problems, %v with them",
		without.Round(time.Millisecond), (time.Since(t0) / time.Duration(b.N)).Round(time.Millisecond))
}
