package archive_test

import (
	"context"
	"fmt"

	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/archive"
	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
)

// sim is one generated contact as the test drove it: what the report should
// find, known without the archive.
type sim struct {
	tn, channel, line, queue, level, district, agent, rtype, outcome, rating string
	received, queued                                                         time.Time
	answered                                                                 *time.Time
	wait, talk, hold, acw                                                    float64
	abandoned                                                                bool
}

var mailboxes = map[string][2]string{
	"cd-city-0001":   {"city", "全市"},
	"cd-wh-0003":     {"district", "武侯区"},
	"cd-jj-dept-014": {"department", "锦江区"},
	"cd-ch-town-002": {"town", "成华区"},
}

var districts = []string{"武侯区", "锦江区", "成华区"}

func places(c *queue.Contact) (string, string) {
	if m, ok := mailboxes[c.Line]; ok {
		return m[0], m[1]
	}
	if c.Location != nil {
		for _, d := range districts {
			if strings.Contains(c.Location.Address, d) {
				return "", d
			}
		}
	}
	return "", ""
}

// generator drives contacts through the queue with the test's clock.
type generator struct {
	e      *env
	rnd    *rand.Rand
	sims   []*sim
	calls  int
	onTime map[string]time.Duration // each agent's time on contact within the day
	day    archive.Period
}

func (g *generator) pick(xs ...string) string { return xs[g.rnd.IntN(len(xs))] }

func (g *generator) secs(lo, hi int) time.Duration {
	return time.Duration(lo+g.rnd.IntN(hi-lo+1)) * time.Second
}

// contact drives one contact on channel ch from arrival to close.
func (g *generator) contact(ch string) {
	t := g.e.t
	ctx := g.e.ctx
	q := g.e.q
	now := g.e.clock.Now()
	s := &sim{channel: ch, queue: g.pick("general", "general", "consumer", "enterprise"),
		rtype:   g.pick("consultation", "help", "complaint", "report", "suggestion", "praise", "other"),
		outcome: g.pick("resolved", "resolved", "dispatched", "transferred_110", "invalid", "duplicate"),
		rating:  g.pick("满意", "基本满意", "不满意", "", "")}
	in := queue.Intake{Channel: queue.Channel(ch), Queue: s.queue, Text: "生成的诉求", ReceivedAt: now,
		Citizen: queue.Citizen{Address: fmt.Sprintf("c%d", len(g.sims)), Phone: fmt.Sprintf("+86138%08d", len(g.sims))}}
	switch ch {
	case "voice":
		in.Line = g.pick("12345", "12315")
	case "mailbox":
		in.Line = g.pick("cd-city-0001", "cd-wh-0003", "cd-jj-dept-014", "cd-ch-town-002")
		// A letter was received a while before it was queued.
		in.ReceivedAt = now.Add(-g.secs(60, 1800))
	default:
		in.Line = ch + "-line"
	}
	if g.rnd.IntN(2) == 0 {
		in.Location = &queue.Location{Address: "成都市" + g.pick(districts...) + "某路1号"}
	}
	s.line, s.received, s.queued = in.Line, in.ReceivedAt.UTC(), now.UTC()
	s.level, s.district = places(&queue.Contact{Intake: in})
	var r queue.Receipt
	var err error
	if ch == "voice" {
		g.calls++
		r, err = q.EnqueueCall(ctx, in, queue.Call{ID: fmt.Sprintf("call-%d@test", g.calls), Node: "node-a"})
	} else {
		r, err = q.Enqueue(ctx, in, "")
	}
	require.NoError(t, err)
	s.tn = r.TrackingNo
	c, err := q.Contact(ctx, s.tn)
	require.NoError(t, err)
	require.Equal(t, queue.StateOffered, c.State, "an agent is free for every contact")
	agent, offered := c.Agent, now
	var wait time.Duration
	switch ch {
	case "voice":
		wait = g.secs(1, 45)
	case "mailbox":
		wait = g.secs(60, 1500)
	default:
		wait = g.secs(5, 900) // sometimes past the 10-minute target
	}
	g.e.clock.Add(wait)
	s.wait = wait.Seconds()
	if ch == "voice" && g.rnd.IntN(5) == 0 {
		// The caller hangs up while the phone rings.
		res, err := q.Hangup(ctx, s.tn, "caller")
		require.NoError(t, err)
		require.Equal(t, "abandoned", res.Outcome)
		s.abandoned, s.outcome, s.rtype, s.rating = true, "abandoned", "", ""
	} else {
		require.NoError(t, q.Accept(ctx, agent, s.tn))
		at := g.e.clock.Now().UTC()
		s.answered, s.agent = &at, agent
		talk := g.secs(20, 400)
		if ch == "voice" && g.rnd.IntN(3) == 0 {
			hold := g.secs(5, 60)
			g.e.clock.Add(talk / 2)
			require.NoError(t, q.CallHold(ctx, s.tn, true))
			g.e.clock.Add(hold)
			require.NoError(t, q.CallHold(ctx, s.tn, false))
			g.e.clock.Add(talk - talk/2)
			s.hold = hold.Seconds()
		} else {
			g.e.clock.Add(talk)
		}
		s.talk = talk.Seconds()
		if ch == "voice" {
			res, err := q.Hangup(ctx, s.tn, "caller")
			require.NoError(t, err)
			require.Equal(t, "ended", res.Outcome)
		} else {
			require.NoError(t, q.End(ctx, agent, s.tn))
		}
		acw := g.secs(0, 120)
		g.e.clock.Add(acw)
		s.acw = acw.Seconds()
		if s.rating != "" {
			// The follow-up's rating is a field another part writes on the hash.
			require.NoError(t, g.e.rdb.HSet(ctx, "{lianxin}:c:"+s.tn, "rating", s.rating).Err())
		}
		require.NoError(t, q.WrapUp(ctx, agent, s.tn, queue.RequestType(s.rtype), queue.Outcome(s.outcome), ""))
	}
	// The agent was on this contact from the offer to its close.
	g.onTime[agent] += overlap(offered, g.e.clock.Now(), g.day.Start, g.day.End)
	g.sims = append(g.sims, s)
}

func overlap(a, b, lo, hi time.Time) time.Duration {
	if a.Before(lo) {
		a = lo
	}
	if b.After(hi) {
		b = hi
	}
	if b.Before(a) {
		return 0
	}
	return b.Sub(a)
}

// expect computes the figures of contacts ss as the README defines them.
func expect(ss []*sim) archive.Figures {
	targets := map[string]float64{"voice": 20, "sms": 600, "wechat": 600, "web": 600, "mailbox": 86400, "110-transfer": 60}
	var f archive.Figures
	var handle, waits, callHandle float64
	for _, s := range ss {
		f.Received++
		if s.answered != nil {
			f.Answered++
			handle += s.talk + s.hold + s.acw
			if s.answered.Sub(s.received).Seconds() <= targets[s.channel] {
				f.InTarget++
			}
		}
		switch s.outcome {
		case "resolved":
			f.Resolved++
		case "dispatched", "transferred_110":
			f.Dispatched++
		}
		if s.rating != "" {
			f.Rated++
			if s.rating == "满意" || s.rating == "基本满意" {
				f.Satisfied++
			}
		}
		if s.channel == "voice" {
			f.Calls++
			if s.answered != nil {
				f.CallsAnswered++
				waits += s.wait
				callHandle += s.talk + s.hold + s.acw
			}
			if s.abandoned {
				f.CallsAbandoned++
				if s.wait < 5 {
					f.ShortAbandons++
				}
			}
			if s.wait <= 20 {
				f.Within20++
			}
		}
	}
	div := func(a, b float64) *float64 {
		if b == 0 {
			return nil
		}
		v := a / b
		return &v
	}
	f.ResponseRate = div(float64(f.InTarget), float64(f.Received))
	f.ResolutionRate = div(float64(f.Resolved+f.Dispatched), float64(f.Received))
	f.SatisfactionRate = div(float64(f.Satisfied), float64(f.Rated))
	f.AHT = div(handle, float64(f.Answered))
	f.ServiceLevel = div(float64(f.Within20), float64(f.Calls))
	f.ASA = div(waits, float64(f.CallsAnswered))
	f.AbandonRate = div(float64(f.CallsAbandoned-f.ShortAbandons), float64(f.Calls-f.ShortAbandons))
	f.CallAHT = div(callHandle, float64(f.CallsAnswered))
	return f
}

func requireFigures(t *testing.T, want, got archive.Figures, what string) {
	t.Helper()
	ints := func(f archive.Figures) []int {
		return []int{f.Received, f.Answered, f.InTarget, f.Resolved, f.Dispatched, f.Rated, f.Satisfied, f.Calls,
			f.CallsAnswered, f.CallsAbandoned, f.ShortAbandons, f.Within20}
	}
	require.Equal(t, ints(want), ints(got), "%s: counts (received, answered, in target, resolved, dispatched, "+
		"rated, satisfied, calls, answered, abandoned, short, within 20 s)", what)
	for _, p := range []struct {
		name string
		w, g *float64
	}{{"response rate", want.ResponseRate, got.ResponseRate}, {"resolution rate", want.ResolutionRate, got.ResolutionRate},
		{"satisfaction", want.SatisfactionRate, got.SatisfactionRate}, {"AHT", want.AHT, got.AHT},
		{"service level", want.ServiceLevel, got.ServiceLevel}, {"ASA", want.ASA, got.ASA},
		{"abandon rate", want.AbandonRate, got.AbandonRate}, {"call AHT", want.CallAHT, got.CallAHT}} {
		if p.w == nil {
			require.Nil(t, p.g, "%s: %s", what, p.name)
			continue
		}
		require.NotNil(t, p.g, "%s: %s", what, p.name)
		require.InDelta(t, *p.w, *p.g, 1e-9, "%s: %s", what, p.name)
	}
}

// A generated day of contacts on every channel, with known answer times,
// holds, after-call work, ratings and outcomes, one contact the day before
// and one the day after: every figure of the day's report equals the value
// computed here from what the test did.
func TestReportFiguresOfAGeneratedDay(t *testing.T) {
	e := newEnv(t)
	day, err := archive.ParsePeriod(archive.Day, "2026-11-30")
	require.NoError(t, err)
	g := &generator{e: e, rnd: rand.New(rand.NewPCG(11, 30)), onTime: map[string]time.Duration{}, day: day}
	e.clock.Set(day.Start.Add(-30 * time.Minute))
	agents := []string{"1001", "1002", "1003"}
	caps := map[queue.Channel]int{}
	for _, ch := range queue.Channels {
		caps[ch] = 1
	}
	for _, id := range agents {
		s, err := e.q.Connect(e.ctx, queue.Profile{ID: id, Name: "坐席" + id, Capacity: caps,
			Skills: map[string]int{"general": 3, "consumer": 3, "enterprise": 3}})
		require.NoError(t, err)
		require.NoError(t, e.q.SetPresence(e.ctx, id, s.ID, queue.PresenceReady, ""))
		require.NoError(t, e.q.SetPhone(e.ctx, id, day.End.Add(48*time.Hour)))
	}
	e.runArchiver(archive.Options{Places: places, KeepEvents: -1, Tidy: 100 * time.Millisecond})

	g.contact("sms") // the day before: not in the report
	before := g.sims[0]
	e.clock.Set(day.Start.Add(3 * time.Minute))
	// Busier in the morning and afternoon, as a hotline is.
	for e.clock.Now().Before(day.End.Add(-40 * time.Minute)) {
		h := e.clock.Now().In(archive.ChinaTime).Hour()
		gap := g.secs(60, 900)
		if (h >= 9 && h < 12) || (h >= 14 && h < 17) {
			gap = g.secs(5, 120)
		}
		e.clock.Add(gap)
		g.contact(g.pick("voice", "voice", "voice", "sms", "wechat", "mailbox", "web", "110-transfer"))
	}
	e.clock.Set(day.End.Add(time.Minute))
	g.contact("voice") // the day after
	var inDay []*sim
	for _, s := range g.sims[1 : len(g.sims)-1] {
		if !s.received.Before(day.Start) && s.received.Before(day.End) {
			inDay = append(inDay, s)
		}
	}
	require.Greater(t, len(inDay), 50)
	require.NotEqual(t, before.tn, inDay[0].tn)

	// Every contact is closed, so archived: wait for the archive.
	require.Eventually(t, func() bool {
		return e.count(`SELECT count(*) FROM contacts`) == len(g.sims)
	}, 2*time.Minute, 100*time.Millisecond)
	require.Eventually(t, func() bool {
		n, err := e.rdb.XPending(e.ctx, "{lianxin}:events", "archive").Result()
		return err == nil && n.Count == 0 && e.count(`SELECT count(*) FROM events WHERE type = 'closed'`) == len(g.sims)
	}, 2*time.Minute, 100*time.Millisecond)

	r, err := e.store.Compute(context.Background(), day, nil)
	require.NoError(t, err)
	requireFigures(t, expect(inDay), r.Total, "total")
	t.Logf("day: %d contacts, response %s, resolution %s, satisfaction %s, SL20 %s, ASA %s, abandon %s, AHT %s, occupancy %s",
		r.Total.Received, archive.Percent(r.Total.ResponseRate), archive.Percent(r.Total.ResolutionRate),
		archive.Percent(r.Total.SatisfactionRate), archive.Percent(r.Total.ServiceLevel), archive.Seconds(r.Total.ASA),
		archive.Percent(r.Total.AbandonRate), archive.Seconds(r.Total.AHT), archive.Percent(r.Total.Occupancy))

	breakdowns := []struct {
		name string
		rows []archive.Row
		key  func(*sim) string
	}{
		{"channel", r.Channels, func(s *sim) string { return s.channel }},
		{"line", r.Lines, func(s *sim) string { return s.line }},
		{"level", r.Levels, func(s *sim) string { return s.level }},
		{"district", r.Districts, func(s *sim) string { return s.district }},
		{"queue", r.Queues, func(s *sim) string { return s.queue }},
		{"agent", r.Agents, func(s *sim) string { return s.agent }},
	}
	for _, b := range breakdowns {
		groups := map[string][]*sim{}
		for _, s := range inDay {
			groups[b.key(s)] = append(groups[b.key(s)], s)
		}
		got := map[string]archive.Figures{}
		for _, row := range b.rows {
			if row.Received > 0 {
				got[row.Key] = row.Figures
			}
		}
		require.Len(t, got, len(groups), "%s: one row per value", b.name)
		for k, ss := range groups {
			requireFigures(t, expect(ss), got[k], b.name+" "+k)
		}
		for i := 1; i < len(b.rows); i++ {
			require.GreaterOrEqual(t, b.rows[i-1].Received, b.rows[i].Received, "%s: largest first", b.name)
		}
	}
	require.Len(t, r.Channels, len(queue.Channels), "every channel had contacts")

	// Occupancy: on contact from offer to close, ready otherwise, all day.
	var on, all time.Duration
	for _, row := range r.Agents {
		if row.Key == "" {
			continue
		}
		want := g.onTime[row.Key]
		require.InDelta(t, want.Seconds(), row.OnContactSeconds, 1e-6, "agent %s on contact", row.Key)
		require.InDelta(t, (day.End.Sub(day.Start) - want).Seconds(), row.IdleSeconds, 1e-6, "agent %s idle", row.Key)
		require.InDelta(t, want.Seconds()/day.End.Sub(day.Start).Seconds(), *row.Occupancy, 1e-9)
		on += want
		all += day.End.Sub(day.Start)
	}
	require.InDelta(t, on.Seconds()/all.Seconds(), *r.Total.Occupancy, 1e-9)

	// Request types, outcomes, hours and the busiest hours.
	counts := func(key func(*sim) string) map[string]int {
		m := map[string]int{}
		for _, s := range inDay {
			m[key(s)]++
		}
		return m
	}
	asMap := func(cs []archive.Count) map[string]int {
		m := map[string]int{}
		for _, c := range cs {
			if c.N > 0 {
				m[c.Key] = c.N
			}
		}
		return m
	}
	require.Equal(t, counts(func(s *sim) string { return s.rtype }), asMap(r.RequestTypes))
	require.Equal(t, counts(func(s *sim) string { return s.outcome }), asMap(r.Outcomes))
	hours := counts(func(s *sim) string { return fmt.Sprint(s.received.In(archive.ChinaTime).Hour()) })
	require.Equal(t, hours, asMap(r.Hours))
	type hc struct {
		h string
		n int
	}
	var hs []hc
	for h, n := range hours {
		hs = append(hs, hc{h, n})
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].n > hs[j].n })
	require.Len(t, r.Busiest, 3)
	require.Equal(t, hs[0].n, r.Busiest[0].N)
	require.Equal(t, hs[2].n, r.Busiest[2].N)
	require.Equal(t, []archive.Count{{Key: "2026-11-30", Label: "11-30", N: len(inDay)}}, r.Days)

	// The week and month hold the day and the contacts of the day before.
	w, err := archive.ParsePeriod(archive.Week, "2026-W49")
	require.NoError(t, err)
	require.Equal(t, day.Start, w.Start, "2026-11-30 is a Monday")
	wr, err := e.store.Compute(e.ctx, w, nil)
	require.NoError(t, err)
	requireFigures(t, expect(append(inDay, g.sims[len(g.sims)-1])), wr.Total, "week")
	m, err := archive.ParsePeriod(archive.Month, "2026-11")
	require.NoError(t, err)
	mr, err := e.store.Compute(e.ctx, m, nil)
	require.NoError(t, err)
	requireFigures(t, expect(append([]*sim{before}, inDay...)), mr.Total, "month")
	require.Len(t, mr.Days, 2)

}
