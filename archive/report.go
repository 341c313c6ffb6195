package archive

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lianxin/lianxin/queue"
)

// ChinaTime is the zone reports count days and hours in.
var ChinaTime = time.FixedZone("CST", 8*3600)

// Period kinds.
const (
	Day   = "day"
	Week  = "week"
	Month = "month"
)

// Period is the span a report covers: [Start, End) in China time.
type Period struct {
	Kind  string    `json:"kind"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Label names it in Chinese: 2026年11月30日, 2026年第49周, 2026年11月.
	Label string `json:"label"`
	// Name is how it is written in URLs and on the command line:
	// 2026-11-30, 2026-W49, 2026-11.
	Name string `json:"name"`
}

var (
	dayRE   = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})$`)
	weekRE  = regexp.MustCompile(`^(\d{4})-W(\d{2})$`)
	monthRE = regexp.MustCompile(`^(\d{4})-(\d{2})$`)
)

// ParsePeriod reads a period: kind day with 2026-11-30; week with 2026-W49
// (ISO week) or any day in it; month with 2026-11.
func ParsePeriod(kind, s string) (Period, error) {
	if len(s) >= 4 {
		if y, err := strconv.Atoi(s[:4]); err != nil || y < 1970 || y > 9998 {
			return Period{}, fmt.Errorf("%s %q: the year must be between 1970 and 9998", kind, s)
		}
	}
	switch kind {
	case Day:
		t, err := time.ParseInLocation("2006-01-02", s, ChinaTime)
		if err != nil || !dayRE.MatchString(s) {
			return Period{}, fmt.Errorf("day %q: want YYYY-MM-DD, e.g. 2026-11-30", s)
		}
		return Period{Kind: Day, Start: t, End: t.AddDate(0, 0, 1), Name: t.Format("2006-01-02"),
			Label: fmt.Sprintf("%d年%d月%d日", t.Year(), t.Month(), t.Day())}, nil
	case Week:
		var monday time.Time
		if m := weekRE.FindStringSubmatch(s); m != nil {
			y, _ := strconv.Atoi(m[1])
			w, _ := strconv.Atoi(m[2])
			// ISO week 1 holds 4 January.
			jan4 := time.Date(y, 1, 4, 0, 0, 0, 0, ChinaTime)
			monday = jan4.AddDate(0, 0, -((int(jan4.Weekday())+6)%7)+(w-1)*7)
			if yy, ww := monday.ISOWeek(); w < 1 || yy != y || ww != w {
				return Period{}, fmt.Errorf("week %q: %d has no week %d", s, y, w)
			}
		} else {
			t, err := time.ParseInLocation("2006-01-02", s, ChinaTime)
			if err != nil || !dayRE.MatchString(s) {
				return Period{}, fmt.Errorf("week %q: want YYYY-Www (e.g. 2026-W49) or a day in the week (2026-11-30)", s)
			}
			monday = t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
		}
		y, w := monday.ISOWeek()
		end := monday.AddDate(0, 0, 7)
		return Period{Kind: Week, Start: monday, End: end, Name: fmt.Sprintf("%d-W%02d", y, w),
			Label: fmt.Sprintf("%d年第%d周（%d月%d日至%d月%d日）", y, w, monday.Month(), monday.Day(),
				end.AddDate(0, 0, -1).Month(), end.AddDate(0, 0, -1).Day())}, nil
	case Month:
		t, err := time.ParseInLocation("2006-01", s, ChinaTime)
		if err != nil || !monthRE.MatchString(s) {
			return Period{}, fmt.Errorf("month %q: want YYYY-MM, e.g. 2026-11", s)
		}
		return Period{Kind: Month, Start: t, End: t.AddDate(0, 1, 0), Name: t.Format("2006-01"),
			Label: fmt.Sprintf("%d年%d月", t.Year(), t.Month())}, nil
	}
	return Period{}, fmt.Errorf("period %q: want day, week or month", kind)
}

// Figures are the measures of one set of contacts (see the README's
// "Reports" for each definition). Rates are nil when their denominator is 0.
type Figures struct {
	// Received: contacts received in the period (closed, so archived).
	Received int `json:"received"`
	// Answered by an agent; InTarget of them within their channel's target.
	Answered int `json:"answered"`
	InTarget int `json:"answered_in_target"`
	// Resolved on the spot (当场解答); Dispatched to the department that
	// handles it, or transferred to 110/119/120/122 (转办).
	Resolved   int `json:"resolved"`
	Dispatched int `json:"dispatched"`
	// Rated at the follow-up; Satisfied of them 满意 or 基本满意.
	Rated     int `json:"rated"`
	Satisfied int `json:"satisfied"`
	// The seed's three indicators.
	ResponseRate     *float64 `json:"response_rate"`     // InTarget ÷ Received
	ResolutionRate   *float64 `json:"resolution_rate"`   // (Resolved + Dispatched) ÷ Received
	SatisfactionRate *float64 `json:"satisfaction_rate"` // Satisfied ÷ Rated
	// AHT: mean of talk + hold + after-contact work over answered contacts.
	AHT *float64 `json:"average_handle_seconds"`

	// Calls (channel voice, callbacks of lost nodes left out), as Amazon
	// Connect measures them.
	Calls          int      `json:"calls_queued"`
	CallsAnswered  int      `json:"calls_answered"`
	CallsAbandoned int      `json:"calls_abandoned"`
	ShortAbandons  int      `json:"calls_abandoned_under_5s"`
	Within20       int      `json:"calls_removed_within_20s"`
	ServiceLevel   *float64 `json:"service_level_20s"` // Within20 ÷ Calls
	ASA            *float64 `json:"average_speed_of_answer_seconds"`
	AbandonRate    *float64 `json:"abandon_rate"` // (Abandoned − short) ÷ (Calls − short)
	CallAHT        *float64 `json:"call_average_handle_seconds"`
	// Occupancy (agents only): on contact ÷ (on contact + ready and idle).
	Occupancy *float64 `json:"occupancy,omitempty"`
	// OnContact and Idle are its parts, in seconds.
	OnContactSeconds float64 `json:"on_contact_seconds,omitempty"`
	IdleSeconds      float64 `json:"idle_seconds,omitempty"`
}

// Row is one value of a breakdown (a channel, a line, an agent, …).
type Row struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Figures
}

// Count is a number of contacts for one value (a request type, an hour).
type Count struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	N     int    `json:"n"`
}

// Report is a period's report.
type Report struct {
	Period      Period    `json:"period"`
	GeneratedAt time.Time `json:"generated_at"`
	Total       Figures   `json:"total"`
	// Breakdowns, each sorted by volume, largest first.
	Channels  []Row `json:"channels"`
	Lines     []Row `json:"lines"`
	Levels    []Row `json:"mailbox_levels"`
	Districts []Row `json:"districts"`
	Queues    []Row `json:"queues"`
	Agents    []Row `json:"agents"`
	// RequestTypes and Outcomes, largest first.
	RequestTypes []Count `json:"request_types"`
	Outcomes     []Count `json:"outcomes"`
	// Hours: contacts received in each hour of the day (0–23, China time),
	// over the whole period; Busiest the three largest.
	Hours   []Count `json:"hours"`
	Busiest []Count `json:"busiest_hours"`
	// Days: contacts received each day (weeks and months).
	Days []Count `json:"days"`
	// ResponseTargets in seconds by channel, as used.
	ResponseTargets map[string]float64 `json:"response_targets_seconds"`
	// CommonProblems (共性问题): the period's contacts grouped by what they
	// are about, the largest groups first (problems.go). ProblemsRead
	// contacts with a text were read, one in ProblemsSampleEvery of the
	// period's (1: all of them).
	CommonProblems      []Problem `json:"common_problems"`
	ProblemsRead        int       `json:"common_problems_read"`
	ProblemsSampleEvery int       `json:"common_problems_sample_every"`
}

// Satisfied ratings: the follow-up's 满意 and 基本满意 (or their codes).
var satisfiedRatings = []string{"满意", "基本满意", "satisfied", "basically_satisfied"}

// dispatchedOutcomes are handed on to whoever handles the matter.
var dispatchedOutcomes = []string{string(queue.OutcomeDispatched), string(queue.OutcomeTransfer110),
	string(queue.OutcomeTransfer119), string(queue.OutcomeTransfer120), string(queue.OutcomeTransfer122)}

// DefaultTargets are the response targets when none are configured.
var DefaultTargets = map[string]time.Duration{"voice": 20 * time.Second, "sms": 10 * time.Minute,
	"wechat": 10 * time.Minute, "web": 10 * time.Minute, "mailbox": 24 * time.Hour, "110-transfer": time.Minute}

// The dimensions of reportSQL's grouping sets, in its order.
var dims = []string{"channel", "line", "level", "district", "queue", "agent", "rtype", "outcome", "hour", "day"}

// reportSQL computes every figure of every breakdown in one scan of the
// period's contacts: a grouping set per breakdown, () for the total.
const reportSQL = `
WITH l AS (
	SELECT c.channel, c.line, c.line_name, c.mailbox_level, c.district, c.queue, c.agent, c.request_type,
		c.outcome, c.rating, c.received_at, c.answered_at, c.abandoned, c.wait_seconds,
		c.talk_seconds + c.hold_seconds + c.acw_seconds AS handle,
		coalesce(($3::jsonb ->> c.channel)::float8, 0) AS target, c.channel = 'voice' AND NOT c.callback AS call,
		c.received_at + interval '8 hours' AS local -- China time has no summer time
	FROM contacts c
	WHERE c.received_at >= $1 AND c.received_at < $2
), c AS (
	SELECT l.*, extract(hour FROM local AT TIME ZONE 'UTC')::int AS hour,
		(local AT TIME ZONE 'UTC')::date::text AS day
	FROM l
)
SELECT grouping(channel, line, mailbox_level, district, queue, agent, request_type, outcome, hour, day) AS g,
	coalesce(channel, ''), coalesce(line, ''), coalesce(max(line_name), ''), coalesce(mailbox_level, ''),
	coalesce(district, ''), coalesce(queue, ''), coalesce(agent, ''), coalesce(request_type, ''),
	coalesce(outcome, ''), coalesce(hour, 0), coalesce(day, ''),
	count(*),
	count(answered_at),
	count(*) FILTER (WHERE answered_at IS NOT NULL
		AND extract(epoch FROM answered_at - received_at) <= target),
	count(*) FILTER (WHERE outcome = 'resolved'),
	count(*) FILTER (WHERE outcome = ANY($4)),
	count(*) FILTER (WHERE rating <> ''),
	count(*) FILTER (WHERE rating = ANY($5)),
	avg(handle) FILTER (WHERE answered_at IS NOT NULL),
	count(*) FILTER (WHERE call),
	count(*) FILTER (WHERE call AND answered_at IS NOT NULL),
	count(*) FILTER (WHERE call AND abandoned),
	count(*) FILTER (WHERE call AND abandoned AND wait_seconds < 5),
	count(*) FILTER (WHERE call AND (answered_at IS NOT NULL OR abandoned) AND wait_seconds <= 20),
	avg(wait_seconds) FILTER (WHERE call AND answered_at IS NOT NULL),
	avg(handle) FILTER (WHERE call AND answered_at IS NOT NULL)
FROM c
GROUP BY GROUPING SETS ((), (channel), (line), (mailbox_level), (district), (queue), (agent), (request_type),
	(outcome), (hour), (day))`

// occupancySQL adds up each agent's time on contact (offered, busy, wrap-up)
// and idle (ready) within the period, from the agent states the events
// carry: each state lasts until the agent's next one.
const occupancySQL = `
WITH s AS (
	SELECT agent, agent_state AS state, agent_since AS t0,
		lag(agent_state) OVER w AS prev_state, lag(agent_since) OVER w AS prev_since
	FROM events
	WHERE agent_state <> '' AND agent <> '' AND agent_since >= $1::timestamptz - interval '1 day' AND agent_since < $2::timestamptz
	WINDOW w AS (PARTITION BY agent ORDER BY agent_since, id)
), changes AS (
	SELECT agent, state, t0, lead(t0) OVER (PARTITION BY agent ORDER BY t0) AS t1
	FROM s WHERE prev_state IS DISTINCT FROM state OR prev_since IS DISTINCT FROM t0
), spans AS (
	SELECT agent, state, greatest(0, extract(epoch FROM least(coalesce(t1, $2::timestamptz), $2::timestamptz) - greatest(t0, $1::timestamptz))) AS secs
	FROM changes
)
SELECT agent,
	coalesce(sum(secs) FILTER (WHERE state IN ('offered', 'busy', 'wrap_up')), 0),
	coalesce(sum(secs) FILTER (WHERE state = 'ready'), 0)
FROM spans GROUP BY agent`

// Compute builds the report of period p from the archive. targets are the
// response targets by channel (DefaultTargets where missing).
func (s *Store) Compute(ctx context.Context, p Period, targets map[string]time.Duration) (*Report, error) {
	r := &Report{Period: p, GeneratedAt: time.Now().In(ChinaTime), ResponseTargets: map[string]float64{}}
	for ch, d := range DefaultTargets {
		if t, ok := targets[ch]; ok {
			d = t
		}
		r.ResponseTargets[ch] = d.Seconds()
	}
	// The common problems are grouped here while PostgreSQL computes the
	// figures: on a connection of their own, the two overlap.
	type problems struct {
		list        []Problem
		read, every int
		err         error
	}
	pctx, cancelProblems := context.WithCancel(ctx)
	defer cancelProblems()
	found := make(chan problems, 1)
	go func() {
		var pr problems
		pr.list, pr.read, pr.every, pr.err = s.periodProblems(pctx, p)
		found <- pr
	}()
	// One transaction, so that the aggregation gets memory enough to hash
	// every breakdown at once instead of spilling to disk.
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("archive: report: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// JIT compiling takes seconds of these queries' time and wins nothing.
	if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '256MB'; SET LOCAL jit = off`); err != nil {
		return nil, fmt.Errorf("archive: report: %w", err)
	}
	rows, err := tx.Query(ctx, reportSQL, p.Start, p.End, r.ResponseTargets, dispatchedOutcomes, satisfiedRatings)
	if err != nil {
		return nil, fmt.Errorf("archive: report: %w", err)
	}
	defer rows.Close()
	hours := make([]Count, 24)
	for h := range hours {
		hours[h] = Count{Key: strconv.Itoa(h), Label: fmt.Sprintf("%02d:00", h)}
	}
	for rows.Next() {
		var g int
		var v [11]string
		var hour int
		var f Figures
		var aht, asa, callAHT *float64
		if err := rows.Scan(&g, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &hour, &v[10],
			&f.Received, &f.Answered, &f.InTarget, &f.Resolved, &f.Dispatched, &f.Rated, &f.Satisfied, &aht,
			&f.Calls, &f.CallsAnswered, &f.CallsAbandoned, &f.ShortAbandons, &f.Within20, &asa, &callAHT); err != nil {
			return nil, fmt.Errorf("archive: report: %w", err)
		}
		f.AHT, f.ASA, f.CallAHT = aht, asa, callAHT
		f.rates()
		// grouping() sets a bit for each column left out, first column
		// highest: the one bit not set names the breakdown.
		dim := -1
		for i := range dims {
			if g&(1<<(len(dims)-1-i)) == 0 {
				dim = i
			}
		}
		switch dim {
		case -1:
			r.Total = f
		case 0:
			r.Channels = append(r.Channels, Row{Key: v[0], Label: ChannelLabel(v[0]), Figures: f})
		case 1:
			r.Lines = append(r.Lines, Row{Key: v[1], Label: orKey(v[2], v[1]), Figures: f})
		case 2:
			r.Levels = append(r.Levels, Row{Key: v[3], Label: LevelLabel(v[3]), Figures: f})
		case 3:
			r.Districts = append(r.Districts, Row{Key: v[4], Label: orKey(v[4], "（未知）"), Figures: f})
		case 4:
			r.Queues = append(r.Queues, Row{Key: v[5], Label: v[5], Figures: f})
		case 5:
			r.Agents = append(r.Agents, Row{Key: v[6], Label: orKey(v[6], "（未接通的来电）"), Figures: f})
		case 6:
			r.RequestTypes = append(r.RequestTypes, Count{Key: v[7], Label: RequestTypeLabel(v[7]), N: f.Received})
		case 7:
			r.Outcomes = append(r.Outcomes, Count{Key: v[8], Label: OutcomeLabel(v[8]), N: f.Received})
		case 8:
			hours[hour].N = f.Received
		case 9:
			r.Days = append(r.Days, Count{Key: v[10], Label: v[10][5:], N: f.Received})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("archive: report: %w", err)
	}
	rows.Close()
	r.Hours = hours
	if err := s.occupancy(ctx, tx, p, r); err != nil {
		return nil, err
	}
	pr := <-found
	if pr.err != nil {
		return nil, pr.err
	}
	r.CommonProblems, r.ProblemsRead, r.ProblemsSampleEvery = pr.list, pr.read, pr.every
	for _, rs := range [][]Row{r.Channels, r.Lines, r.Levels, r.Districts, r.Queues, r.Agents} {
		sort.SliceStable(rs, func(i, j int) bool {
			if rs[i].Received != rs[j].Received {
				return rs[i].Received > rs[j].Received
			}
			return rs[i].Key < rs[j].Key
		})
	}
	for _, cs := range [][]Count{r.RequestTypes, r.Outcomes} {
		sort.SliceStable(cs, func(i, j int) bool {
			if cs[i].N != cs[j].N {
				return cs[i].N > cs[j].N
			}
			return cs[i].Key < cs[j].Key
		})
	}
	sort.Slice(r.Days, func(i, j int) bool { return r.Days[i].Key < r.Days[j].Key })
	busiest := append([]Count(nil), hours...)
	sort.SliceStable(busiest, func(i, j int) bool { return busiest[i].N > busiest[j].N })
	for _, h := range busiest[:3] {
		if h.N > 0 {
			r.Busiest = append(r.Busiest, h)
		}
	}
	return r, nil
}

// occupancy fills each agent's occupancy, and the total's over all agents.
func (s *Store) occupancy(ctx context.Context, tx pgx.Tx, p Period, r *Report) error {
	end := p.End
	if now := time.Now(); now.Before(end) {
		end = now // a period still running: states last until now
	}
	rows, err := tx.Query(ctx, occupancySQL, p.Start, end)
	if err != nil {
		return fmt.Errorf("archive: occupancy: %w", err)
	}
	defer rows.Close()
	type oc struct{ on, idle float64 }
	byAgent := map[string]oc{}
	var total oc
	for rows.Next() {
		var a string
		var o oc
		if err := rows.Scan(&a, &o.on, &o.idle); err != nil {
			return fmt.Errorf("archive: occupancy: %w", err)
		}
		byAgent[a] = o
		total.on += o.on
		total.idle += o.idle
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("archive: occupancy: %w", err)
	}
	set := func(f *Figures, o oc) {
		f.OnContactSeconds, f.IdleSeconds = o.on, o.idle
		f.Occupancy = ratio(o.on, o.on+o.idle)
	}
	for i := range r.Agents {
		if o, ok := byAgent[r.Agents[i].Key]; ok {
			set(&r.Agents[i].Figures, o)
			delete(byAgent, r.Agents[i].Key)
		}
	}
	for a, o := range byAgent { // agents who took no contact received in the period
		if o.on+o.idle > 0 {
			row := Row{Key: a, Label: a}
			set(&row.Figures, o)
			r.Agents = append(r.Agents, row)
		}
	}
	set(&r.Total, total)
	return nil
}

func (f *Figures) rates() {
	f.ResponseRate = ratio(float64(f.InTarget), float64(f.Received))
	f.ResolutionRate = ratio(float64(f.Resolved+f.Dispatched), float64(f.Received))
	f.SatisfactionRate = ratio(float64(f.Satisfied), float64(f.Rated))
	f.ServiceLevel = ratio(float64(f.Within20), float64(f.Calls))
	f.AbandonRate = ratio(float64(f.CallsAbandoned-f.ShortAbandons), float64(f.Calls-f.ShortAbandons))
}

func ratio(a, b float64) *float64 {
	if b <= 0 {
		return nil
	}
	v := a / b
	return &v
}

func orKey(label, key string) string {
	if label != "" {
		return label
	}
	return key
}

// ChannelLabel is a channel's Chinese name.
func ChannelLabel(ch string) string {
	if l, ok := map[string]string{"voice": "电话", "sms": "短信", "wechat": "微信", "mailbox": "领导信箱",
		"web": "网站", "110-transfer": "110转接"}[ch]; ok {
		return l
	}
	return ch
}

// LevelLabel is a mailbox level's Chinese name ("" for contacts not to a mailbox).
func LevelLabel(l string) string {
	if s, ok := map[string]string{"city": "市级信箱", "district": "区县级信箱", "department": "部门信箱",
		"town": "镇街信箱", "": "非信箱渠道"}[l]; ok {
		return s
	}
	return l
}

// RequestTypeLabel is a request type's Chinese name.
func RequestTypeLabel(t string) string {
	if s, ok := queue.RequestTypes[queue.RequestType(t)]; ok {
		return s
	}
	if t == "" {
		return "未分类"
	}
	return t
}

// OutcomeLabel is an outcome's Chinese name.
func OutcomeLabel(o string) string {
	if s, ok := queue.Outcomes[queue.Outcome(o)]; ok {
		return s
	}
	switch queue.Outcome(o) {
	case queue.OutcomeAbandoned:
		return "来电放弃"
	case queue.OutcomeCallbackLater:
		return "待回拨"
	case "":
		return "未记录"
	}
	return o
}
