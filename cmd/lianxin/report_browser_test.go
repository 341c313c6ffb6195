package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lianxin/lianxin/archive"
	"github.com/lianxin/lianxin/archive/pgtest"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// dayTexts are what the generated day's citizens say: three common problems
// (停水 on 玉林北路, 燃气味 on 建设北路二段, night work on 天府三街), with phone
// and house numbers the report must mask, and matters of their own.
var dayTexts = []string{
	"武侯区玉林北路停水两天了，什么时候来水？我的电话13800138000",
	"玉林北路又停水了，住玉林北路12号3栋，家里老人没水做饭",
	"成华区建设北路二段燃气味很重，担心泄漏",
	"建设北路二段一直有燃气味，请燃气公司来查，电话 139 0000 1234",
	"高新区天府三街工地夜间施工噪音太大，凌晨还在打桩",
	"小区门口路灯坏了一个月",
	"咨询新生儿落户需要什么材料",
	"公交站牌被车撞坏了",
	"表扬接线员耐心细致",
	"网购退货商家一直不处理",
}

// generateDay drives n contacts of 2026-11-30 (China time) through the
// queue with a clock of its own, on node "gen", for the node under test to
// archive: calls (some abandoned), letters to mailboxes of every level,
// messages, ratings and outcomes, busier in office hours.
func generateDay(t *testing.T, srv *queuetest.Server, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	day, err := archive.ParsePeriod(archive.Day, "2026-11-30")
	require.NoError(t, err)
	clk := &testClock{t: day.Start.Add(-time.Minute)}
	rdb := srv.Client(t)
	cfg, err := configs.Load("", nil)
	require.NoError(t, err)
	dir, err := configs.LoadDirectory(cfg)
	require.NoError(t, err)
	var defs []queue.Def
	skills := map[string]int{}
	for _, d := range cfg.Queues {
		defs = append(defs, queue.Def{Name: d.Name, Priority: d.Priority})
		skills[d.Name] = 3
	}
	// The node under test sweeps by Redis's clock, today's: an offer made
	// on the generated day must still be open then, however long ago that
	// day is (a fixed 72 hours ran out three days after it was written),
	// and so must the agents' phones.
	open := time.Since(day.Start) + 72*time.Hour
	q, err := queue.New(rdb, queue.Options{NodeID: "gen", Queues: defs, EventsMaxLen: -1, Now: clk.Now,
		OfferTimeout: open, RingTimeout: open})
	require.NoError(t, err)
	go func() { _ = q.Run(ctx) }() // heartbeats: the node under test must not find "gen" dead
	caps := map[queue.Channel]int{}
	for _, ch := range queue.Channels {
		caps[ch] = 1
	}
	agents := []string{"2001", "2002", "2003", "2004", "2005", "2006"}
	for _, id := range agents {
		s, err := q.Connect(ctx, queue.Profile{ID: id, Name: "坐席" + id, Capacity: caps,
			Skills: skills})
		require.NoError(t, err)
		require.NoError(t, q.SetPresence(ctx, id, s.ID, queue.PresenceReady, ""))
		require.NoError(t, q.SetPhone(ctx, id, time.Now().Add(72*time.Hour)))
	}
	rnd := rand.New(rand.NewPCG(2026, 1130))
	pick := func(xs ...string) string { return xs[rnd.IntN(len(xs))] }
	sec := func(lo, hi int) time.Duration { return time.Duration(lo+rnd.IntN(hi-lo+1)) * time.Second }
	lines := map[string][]configs.Mailbox{}
	for _, m := range dir.Mailboxes {
		lines[m.Level] = append(lines[m.Level], m)
	}
	perHour := []int{1, 1, 0, 0, 1, 1, 2, 4, 8, 14, 16, 13, 7, 6, 12, 15, 13, 9, 6, 5, 4, 3, 2, 1}
	total := 0
	for _, w := range perHour {
		total += w
	}
	for i := range n {
		// Arrivals spread over the hours by weight.
		k, h := rnd.IntN(total), 0
		for k >= perHour[h] {
			k -= perHour[h]
			h++
		}
		clk.mu.Lock()
		clk.t = day.Start.Add(time.Duration(h)*time.Hour + sec(0, 3500))
		clk.mu.Unlock()
		ch := pick("voice", "voice", "voice", "voice", "sms", "wechat", "mailbox", "web", "110-transfer")
		in := queue.Intake{Channel: queue.Channel(ch), Queue: pick("general", "general", "consumer", "enterprise", "labour"),
			Line: "12345", Text: dayTexts[i%len(dayTexts)], Citizen: queue.Citizen{Address: fmt.Sprintf("c%d", i), Phone: fmt.Sprintf("+86139%08d", i)}}
		if ch == "mailbox" {
			ms := lines[pick(configs.LevelCity, configs.LevelDistrict, configs.LevelDepartment, configs.LevelTown)]
			m := ms[rnd.IntN(len(ms))]
			in.Line, in.LineName, in.Queue = m.ID, m.Name, m.Queue
		}
		if ch == "voice" {
			in.Line = pick("12345", "12345", "12315", "12333")
		}
		var r queue.Receipt
		if ch == "voice" {
			r, err = q.EnqueueCall(ctx, in, queue.Call{ID: fmt.Sprintf("gen-%d", i), Node: "gen"})
		} else {
			r, err = q.Enqueue(ctx, in, "")
		}
		require.NoError(t, err)
		c, err := q.Contact(ctx, r.TrackingNo)
		require.NoError(t, err)
		require.Equal(t, queue.StateOffered, c.State)
		clk.Add(sec(2, 40))
		if ch == "voice" && rnd.IntN(8) == 0 {
			_, err := q.Hangup(ctx, r.TrackingNo, "caller")
			require.NoError(t, err)
			continue
		}
		require.NoError(t, q.Accept(ctx, c.Agent, r.TrackingNo))
		clk.Add(sec(30, 420))
		if ch == "voice" {
			_, err = q.Hangup(ctx, r.TrackingNo, "caller")
		} else {
			err = q.End(ctx, c.Agent, r.TrackingNo)
		}
		require.NoError(t, err)
		clk.Add(sec(5, 90))
		if rating := pick("满意", "满意", "基本满意", "不满意", ""); rating != "" {
			require.NoError(t, rdb.HSet(ctx, "{lianxin}:c:"+r.TrackingNo, "rating", rating).Err())
		}
		require.NoError(t, q.WrapUp(ctx, c.Agent, r.TrackingNo,
			queue.RequestType(pick("consultation", "consultation", "help", "complaint", "suggestion", "report")),
			queue.Outcome(pick("resolved", "resolved", "dispatched", "dispatched", "invalid", "transferred_110")), ""))
	}
}

// The day's report as a supervisor sees it: the reports page logs in, shows
// the HTML report at a laptop's 1366×768 without breaking its CSP; the API
// answers supervisors only, in JSON, CSV and HTML.
func TestReportPageInBrowser(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	pg := pgtest.Start(t)
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) {
		c.Database.URL = pg.URL
		c.Database.KeepEvents = time.Second
		// The generated day closed before now: its contacts leave Redis
		// as soon as they are archived.
		c.Database.Retention = time.Hour
	})
	generateDay(t, s, 400)
	st, err := archive.Open(t.Context(), pg.URL, nil)
	require.NoError(t, err)
	defer st.Close()
	require.Eventually(t, func() bool {
		var k int
		require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM contacts`).Scan(&k))
		return k == 400
	}, 2*time.Minute, 100*time.Millisecond, "the node archives every closed contact")

	// They leave Redis, and the public lookup finds them in the archive.
	rdb := s.Client(t)
	require.Eventually(t, func() bool {
		keys, err := rdb.Keys(t.Context(), "{lianxin}:c:*").Result()
		return err == nil && len(keys) == 0
	}, 2*time.Minute, 200*time.Millisecond, "archived contacts past the retention leave Redis")
	var tn, phone, outcome string
	require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT tracking_no, contact->'citizen'->>'phone', outcome
		FROM contacts WHERE outcome = 'dispatched' ORDER BY tracking_no LIMIT 1`).Scan(&tn, &phone, &outcome))
	r := do(t, http.MethodGet, n.base+"/api/contacts/"+tn+"?phone_last4="+phone[len(phone)-4:], "", nil)
	require.Equal(t, http.StatusOK, r.Status, "%v", r.Body)
	require.Equal(t, "closed", r.Body["state"])
	require.Equal(t, "转办", r.Body["outcome_text"])

	// The API: supervisors only.
	sup := loginToken(t, n.base, "1005")
	r = do(t, http.MethodGet, n.base+"/api/reports/day/2026-11-30", "", nil)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	r = do(t, http.MethodGet, n.base+"/api/reports/day/2026-11-30", "", nil, "Authorization", "Bearer "+loginToken(t, n.base, "1001"))
	require.Equal(t, http.StatusForbidden, r.Status)
	r = do(t, http.MethodGet, n.base+"/api/reports/day/2026-11-30", "", nil, "Authorization", "Bearer "+sup)
	require.Equal(t, http.StatusOK, r.Status)
	require.EqualValues(t, 400, r.Body["total"].(map[string]any)["received"])
	r = do(t, http.MethodGet, n.base+"/api/reports/day/2026-13-01", "", nil, "Authorization", "Bearer "+sup)
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, "bad_period", r.Body["error"])
	r = do(t, http.MethodGet, n.base+"/api/reports/year/2026", "", nil, "Authorization", "Bearer "+sup)
	require.Equal(t, http.StatusBadRequest, r.Status)
	req, err := http.NewRequest(http.MethodGet, n.base+"/api/reports/week/2026-W49.csv", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+sup)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Contains(t, body, "2026-W49,total,,合计,400,")
	req, _ = http.NewRequest(http.MethodGet, n.base+"/api/reports/month/2026-11.html", nil)
	req.Header.Set("Authorization", "Bearer "+sup)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	body = readAll(t, resp)
	require.Equal(t, archive.ReportCSP, resp.Header.Get("Content-Security-Policy"))
	require.Contains(t, body, "月分析")
	require.NotContains(t, body, "<script")

	b := startBrowser(t)
	defer b.close(t)
	b.do(t, "a laptop's screen", chromedp.EmulateViewport(1366, 768))
	b.do(t, "open the reports and log in as the supervisor",
		chromedp.Navigate(n.base+"/reports/?kind=day&date=2026-11-30"),
		chromedp.WaitVisible(chromedp.ID("login-agent")),
		chromedp.SendKeys(chromedp.ID("login-agent"), "1005"),
		chromedp.SendKeys(chromedp.ID("login-password"), "demo"),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	for i := 0; !browserRun(t, b, "the report shown", chromedp.Evaluate[bool](`document.querySelector('#report .kpis') !== null`)); i++ {
		if i == 600 {
			b.noPageErrors(t)
			t.Fatalf("no report on the page: %s", browserRun(t, b, "the page", chromedp.Evaluate[string](`document.body.innerText`)))
		}
		time.Sleep(100 * time.Millisecond)
	}
	got := browserRun(t, b, "the first figure", chromedp.Evaluate[string](`document.querySelector('#report .kpi b').textContent`))
	require.Equal(t, "400", got)
	bars := browserRun(t, b, "the hours' columns", chromedp.Evaluate[int](`document.querySelectorAll('#report svg rect.bar').length`))
	require.GreaterOrEqual(t, bars, 24)
	wide := browserRun(t, b, "nothing wider than the window", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
	require.True(t, wide, "the report fits the window's width")
	b.screenshot(t, "day-1366x768")
	// The common problems: the three known ones, their samples masked.
	problems := browserRun(t, b, "the common problems", chromedp.Evaluate[string](
		`(document.querySelector('#report table.problems') || {}).innerText || ''`))
	for _, w := range []string{"停水", "燃气味", "施工"} {
		require.Contains(t, problems, w)
	}
	require.NotContains(t, problems, "13800138000")
	require.NotContains(t, problems, "139 0000 1234")
	require.Contains(t, problems, "**号*栋", "a house's number masked")
	browserRun(t, b, "the common problems on screen", chromedp.Evaluate[bool](
		`(document.querySelector('#report table.problems').previousElementSibling.scrollIntoView(), true)`))
	shot := browserRun(t, b, "the common problems' screen", chromedp.CaptureScreenshot())
	ps := filepath.Join(t.TempDir(), "common-problems.png")
	require.NoError(t, os.WriteFile(ps, shot, 0o644))
	t.Logf("screenshot: %s", ps)
	if dir := os.Getenv("LIANXIN_SCREENSHOT_DIR"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, t.Name()+"-common-problems.png"), shot, 0o644))
	}
	browserRun(t, b, "back to the top", chromedp.Evaluate[bool](`(window.scrollTo(0, 0), true)`))
	// What the supervisor sees first, without scrolling.
	png := browserRun(t, b, "the first screen", chromedp.CaptureScreenshot())
	p := filepath.Join(t.TempDir(), "first-screen.png")
	require.NoError(t, os.WriteFile(p, png, 0o644))
	t.Logf("screenshot: %s", p)
	if dir := os.Getenv("LIANXIN_SCREENSHOT_DIR"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, t.Name()+"-first-screen.png"), png, 0o644))
	}
	b.noPageErrors(t)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		k, err := resp.Body.Read(buf)
		sb.Write(buf[:k])
		if err != nil {
			break
		}
	}
	require.Equal(t, http.StatusOK, resp.StatusCode, sb.String())
	return sb.String()
}
