package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// openWallboard logs supervisor 1005 in on the wallboard page.
func (b *deskBrowser) openWallboard(t *testing.T, base string) {
	t.Helper()
	b.do(t, "open the wallboard and log in as 1005",
		chromedp.EmulateViewport(1366, 768),
		chromedp.Navigate(base+"/wallboard"),
		chromedp.WaitVisible(chromedp.ID("login-agent")),
		chromedp.SendKeys(chromedp.ID("login-agent"), "1005"),
		chromedp.SendKeys(chromedp.ID("login-password"), "demo"),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#conn[data-state="open"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#queues tr[data-queue="general"]`)),
	)
}

// cellText is what the wallboard shows in queue q's column k.
func (b *deskBrowser) cellText(t *testing.T, q, k string) string {
	return browserRun(t, b, "cell "+q+"/"+k, chromedp.Evaluate[string](fmt.Sprintf(
		`(document.querySelector('#queues tr[data-queue=%q] td[data-k=%q]') || {}).textContent || ''`, q, k)))
}

// waitCell polls the page until queue q's column k reads want, and returns
// how long that took from since. No limit on the time (a generous deadline
// only, so a broken page fails instead of hanging).
func (b *deskBrowser) waitCell(t *testing.T, since time.Time, q, k, want string) time.Duration {
	t.Helper()
	return b.waitCellFunc(t, since, q, k, "\""+want+"\"", func(s string) bool { return s == want })
}

func (b *deskBrowser) waitCellFunc(t *testing.T, since time.Time, q, k, what string, ok func(string) bool) time.Duration {
	t.Helper()
	deadline := time.Now().Add(browserWait)
	var got string
	for time.Now().Before(deadline) {
		if got = b.cellText(t, q, k); ok(got) {
			return time.Since(since)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("wallboard: %s/%s shows %q, want %s", q, k, got, what)
	return 0
}

// The supervisor's wallboard in headless Chromium follows calls and a
// letter through the queue: it updates when a call arrives, is answered and
// is abandoned, and after the scripted sequence its service level and
// abandon rate are the ones computed by hand below.
func TestWallboardInBrowser(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) { c.Queue.OfferTimeout = 5 * time.Minute })
	q := n.n.q
	ctx := context.Background()

	b := startBrowser(t)
	defer b.close(t)
	b.openWallboard(t, n.base)
	require.Equal(t, "0 / 0", b.cellText(t, "general", "queued"))
	require.Equal(t, "—", b.cellText(t, "general", "service_level"))
	require.Equal(t, "综合受理", b.cellText(t, "general", "title"), "the queue's Chinese title from the config")

	// Agent 1001 (general, voice capacity 1) is ready with a registered
	// phone; its desk answers by accept, as the phone's answer would.
	agent := desk(t, n.base, "1001")
	require.NoError(t, q.SetPhone(ctx, "1001", time.Now().Add(time.Hour)))
	send(t, agent, "ready", nil)
	// The callers' audio is held by a node of the test's ("node-x"): this
	// node's SIP side leaves these calls alone.
	calls := 0
	call := func() string {
		calls++
		r, err := q.EnqueueCall(ctx, queue.Intake{Queue: "general", Line: "12345", LineName: "12345",
			Citizen: queue.Citizen{Address: fmt.Sprintf("+86139%08d", calls), Phone: fmt.Sprintf("+86139%08d", calls)}},
			queue.Call{ID: fmt.Sprintf("wallboard-call-%d", calls), Node: "node-x"})
		require.NoError(t, err)
		return r.TrackingNo
	}
	accept := func(tn string) {
		for next(t, agent, "offer").TrackingNo() != tn {
		}
		send(t, agent, "accept", map[string]any{"contact": tn})
	}
	wrap := func(tn string) {
		send(t, agent, "wrapup", map[string]any{"contact": tn, "request_type": "consultation", "outcome": "resolved"})
	}

	// A arrives: offered at once, answered within a second (within 20 s).
	start := time.Now()
	a := call()
	arrive := b.waitCell(t, start, "general", "queued", "1 / 0")
	start = time.Now()
	accept(a)
	answer := b.waitCellFunc(t, start, "general", "asa", "a time", func(s string) bool { return s != "—" && s != "" })

	// B, C and E arrive while 1001 talks to A (a call takes the agent whole).
	bb := call()
	c := call()
	b.waitCell(t, time.Now(), "general", "waiting", "2 / 0")
	// C hangs up after a moment: abandoned within 20 s. 1 of 3 queued.
	start = time.Now()
	res, err := q.Hangup(ctx, c, "caller")
	require.NoError(t, err)
	require.Equal(t, "abandoned", res.Outcome)
	abandon := b.waitCell(t, start, "general", "abandon_rate", "33.3%")
	e := call()
	eQueued := time.Now()
	// E waits more than 20 s and hangs up: abandoned, not within 20 s.
	// (B, queued before E, has waited longer still.)
	time.Sleep(time.Until(eQueued.Add(21 * time.Second)))
	res, err = q.Hangup(ctx, e, "caller")
	require.NoError(t, err)
	require.Equal(t, "abandoned", res.Outcome)
	// 1001 finishes A; B (waited > 21 s) is offered and answered: not within 20 s.
	send(t, agent, "end", map[string]any{"contact": a})
	wrap(a)
	accept(bb)
	// D, a letter, arrives while 1001 is on B; B's caller hangs up, 1001
	// wraps B up and takes D within seconds of its arrival.
	d := letter(t, n.base, mailboxFor(t, "general"), "小区停水")
	res, err = q.Hangup(ctx, bb, "caller")
	require.NoError(t, err)
	require.Equal(t, "ended", res.Outcome)
	wrap(bb)
	accept(d)

	// By hand, Amazon Connect's definitions, general queue, today:
	//   queued:              A, B, C, E (calls) + D (letter)          = 5
	//   removed within 20 s: A answered at once, C abandoned after a
	//                        moment, D answered seconds after it came = 3
	//   not within 20 s:     B answered after > 21 s, E abandoned > 21 s
	//   service level = 3 ÷ 5 = 60.0 %
	//   abandoned in queue: C, E = 2  →  abandon rate = 2 ÷ 5 = 40.0 %
	// The sleep above makes B's and E's waits; A's, C's and D's are the
	// machine's speed, so each is read from its contact, and a slow machine
	// (a wait over 20 s) moves the expected figure with it.
	queued, met, abandoned := 5, 0, 2
	for _, x := range []struct {
		tn        string
		abandoned bool
	}{{a, false}, {c, true}, {d, false}} {
		ct, err := q.Contact(ctx, x.tn)
		require.NoError(t, err)
		left := ct.AssignedAt
		if x.abandoned {
			left = ct.ClosedAt
		}
		require.NotNil(t, left, x.tn)
		if wait := left.Sub(ct.QueuedAt); wait <= 20*time.Second {
			met++
		} else {
			t.Logf("contact %s waited %s on this machine: not within 20 s", x.tn, wait)
		}
	}
	sl := fmt.Sprintf("%.1f%%", 100*float64(met)/float64(queued))
	ar := fmt.Sprintf("%.1f%%", 100*float64(abandoned)/float64(queued))
	if met == 3 {
		require.Equal(t, "60.0%", sl)
	}
	require.Equal(t, "40.0%", ar)
	b.waitCell(t, time.Now(), "general", "queued", "4 / 1")
	b.waitCell(t, time.Now(), "general", "service_level", sl)
	b.waitCell(t, time.Now(), "general", "abandon_rate", ar)
	b.waitCell(t, time.Now(), "*", "service_level", sl)
	// AHT: A and B are wrapped up, each handled for at least as long as the
	// wait above kept A in talk (21 s); D is still open.
	aht := b.cellText(t, "general", "aht")
	require.Regexp(t, `^00:[0-9]{2}$`, aht)
	t.Logf("wallboard update, action to DOM (incl. ~5 ms polling): arrival %s, answer %s, abandon %s",
		arrive.Round(time.Millisecond), answer.Round(time.Millisecond), abandon.Round(time.Millisecond))
	b.screenshot(t, "wallboard-sequence")
	b.noPageErrors(t)
}

// seedDay writes a plausible day of contacts into a fresh event stream
// (queued, answered or abandoned, closed), at stream ids between today's
// midnight (China time) and a few minutes ago, as the nodes would have: the
// node started afterwards rebuilds today's figures and chart from them.
func seedDay(t *testing.T, rdb *redis.Client) {
	t.Helper()
	ctx := context.Background()
	cst := time.FixedZone("CST", 8*3600)
	now := time.Now().In(cst)
	mid := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, cst)
	type ev struct {
		at     int64
		fields []any
	}
	var evs []ev
	queues := []string{"general", "general", "general", "housing", "labour", "consumer", "water_power", "enterprise"}
	chans := []queue.Channel{queue.ChannelVoice, queue.ChannelVoice, queue.ChannelVoice, queue.ChannelWeChat,
		queue.ChannelSMS, queue.ChannelMailbox, queue.ChannelWeb}
	agents := []string{"1001", "1002", "1003", "1004"}
	seq := 0
	for slot := 0; slot < 96; slot++ {
		from := mid.Add(time.Duration(slot) * 15 * time.Minute)
		if from.Add(15 * time.Minute).After(now.Add(-5 * time.Minute)) {
			break
		}
		h := float64(slot) / 4
		// Night is quiet; mornings and afternoons are busy.
		load := 2 + 14*math.Exp(-math.Pow((h-10)/2.2, 2)) + 11*math.Exp(-math.Pow((h-15.5)/2.5, 2))
		for i := 0; i < int(load); i++ {
			seq++
			tn := fmt.Sprintf("seed%06d", seq)
			q := queues[seq%len(queues)]
			ch := chans[(seq*5+seq/7)%len(chans)]
			at := from.Add(time.Duration(i) * 15 * time.Minute / time.Duration(int(load)+1)).UnixMilli()
			evs = append(evs, ev{at, []any{"type", "queued", "contact", tn, "queue", q, "ch", string(ch), "prio", "0"}})
			wait := int64(3000 + (seq*7919)%26000)
			if ch == queue.ChannelVoice && seq%9 == 0 {
				evs = append(evs, ev{at + wait, []any{"type", "closed", "contact", tn, "agent", "", "outcome", "abandoned",
					"queue", q, "ch", string(ch), "reason", "caller"}})
				continue
			}
			ag := agents[seq%len(agents)]
			evs = append(evs, ev{at + wait, []any{"type", "assigned", "contact", tn, "tn", tn, "agent", ag, "queue", q,
				"d", fmt.Sprintf(`{"channel":%q}`, ch), "state", "assigned", "queued", fmt.Sprint(at), "assigned", fmt.Sprint(at + wait)}})
			handle := int64(90000 + (seq*104729)%300000)
			evs = append(evs, ev{at + wait + handle, []any{"type", "closed", "contact", tn, "agent", ag, "outcome", "resolved",
				"queue", q, "ch", string(ch)}})
		}
	}
	// Stream ids must grow: write in time order.
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && evs[j].at < evs[j-1].at; j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
	pipe := rdb.Pipeline()
	last := int64(-1)
	n := 0
	for _, e := range evs {
		if e.at >= now.Add(-time.Minute).UnixMilli() {
			continue
		}
		id := fmt.Sprintf("%d-0", e.at)
		if e.at <= last {
			n++
			id = fmt.Sprintf("%d-%d", last, n)
		} else {
			last, n = e.at, 0
		}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: "{lianxin}:events", ID: id, Values: e.fields})
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
}

// The wallboard at 1366×768 with a day behind it: several queues with
// contacts waiting, agents busy, ready, not ready, in wrap-up, one gone
// offline holding a letter, an emergency and a cluster alert, and the
// 15-minute chart. Saved as PNG (the test logs where) to look at.
func TestWallboardScreenshotInBrowser(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	rdb := s.Client(t)
	seedDay(t, rdb)
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) { c.Queue.OfferTimeout = 5 * time.Minute })
	q := n.n.q
	ctx := context.Background()

	// 1001 talks to a caller; another caller waits behind.
	a1 := desk(t, n.base, "1001")
	require.NoError(t, q.SetPhone(ctx, "1001", time.Now().Add(time.Hour)))
	send(t, a1, "ready", nil)
	var callTN string
	for i := range 2 {
		r, err := q.EnqueueCall(ctx, queue.Intake{Queue: "general", Line: "12345", LineName: "12345",
			Citizen: queue.Citizen{Address: fmt.Sprintf("+8613900000%03d", i), Phone: fmt.Sprintf("+8613900000%03d", i)}},
			queue.Call{ID: fmt.Sprintf("shot-%d", i), Node: "node-x"})
		require.NoError(t, err)
		if i == 0 {
			callTN = r.TrackingNo
		}
	}
	for next(t, a1, "offer").TrackingNo() != callTN {
	}
	send(t, a1, "accept", map[string]any{"contact": callTN})

	// 1002 takes a letter, then its desk goes away: the letter is orphaned.
	a2 := desk(t, n.base, "1002")
	send(t, a2, "ready", nil)
	lt := letter(t, n.base, mailboxFor(t, "consumer"), "网购退货被拒")
	for next(t, a2, "offer").TrackingNo() != lt {
	}
	send(t, a2, "accept", map[string]any{"contact": lt})
	require.NoError(t, a2.Close())

	// 1003 is at a meal; 1004 finished a letter and is writing it up.
	a3 := desk(t, n.base, "1003")
	send(t, a3, "not_ready", map[string]any{"reason": "meal"})
	a4 := desk(t, n.base, "1004")
	send(t, a4, "ready", nil)
	lt4 := letter(t, n.base, mailboxFor(t, "transport"), "公交站台损坏")
	for next(t, a4, "offer").TrackingNo() != lt4 {
	}
	send(t, a4, "accept", map[string]any{"contact": lt4})
	send(t, a4, "end", map[string]any{"contact": lt4})
	send(t, a4, "not_ready", map[string]any{"reason": "training"})

	// Letters wait in several queues.
	for _, l := range []struct{ queue, subject string }{{"housing", "物业费纠纷"}, {"labour", "拖欠工资"},
		{"labour", "社保断缴"}, {"water_power", "武侯区停水"}, {"water_power", "燃气表故障"}, {"enterprise", "营业执照办理"}} {
		letter(t, n.base, mailboxFor(t, l.queue), l.subject)
	}
	gas := letter(t, n.base, mailboxFor(t, "general"), "楼道有很浓的煤气味")
	require.NoError(t, q.Alert(ctx, gas, "gas", "燃气泄漏：来信人称楼道有浓烈煤气味，已提示关闭阀门、开窗、勿开关电器，转119/燃气抢修"))
	require.NoError(t, q.Alert(ctx, "", "cluster", "2 小时内 37 件来电反映 武侯区 停水（玉林街道、望江路街道）"))
	fall := letter(t, n.base, mailboxFor(t, "general"), "老人在家摔倒")
	require.NoError(t, q.Alert(ctx, fall, sip.AlertLineFailed, "转120未接通（对方占线）：来电已回到队列优先等待（坐席 1001 转出）"))

	b := startBrowser(t)
	defer b.close(t)
	b.openWallboard(t, n.base)
	b.do(t, "everything shown",
		chromedp.WaitVisible(chromedp.CSS(`#agents tr[data-agent="1004"] .state[data-state="wrap_up"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#orphans li[data-contact="`+lt+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#alerts li[data-alert]`)),
		chromedp.WaitVisible(chromedp.CSS(`#chart svg rect`)),
	)
	require.Contains(t, browserRun(t, b, "the alerts", chromedp.Text(chromedp.ID("alerts"))), "转接失败",
		"a call 120 did not take is named for the supervisor")
	// The day rebuilt from the stream shows in the chart and the figures.
	bars := browserRun(t, b, "chart bars", chromedp.Evaluate[int](`document.querySelectorAll('#chart svg rect').length`))
	require.Positive(t, bars)
	b.screenshot(t, "wallboard-1366x768")
	// Nothing spills out of the window at 1366×768.
	over := browserRun(t, b, "overflow", chromedp.Evaluate[bool](
		`document.documentElement.scrollWidth > innerWidth || document.documentElement.scrollHeight > innerHeight`))
	require.False(t, over, "the wallboard overflows 1366×768")
	b.noPageErrors(t)
}

// The wallboard goes on with a login the supervisor renewed on the desk:
// the supervisor works the desk (1005, a 90-s login, so the strip offers
// the renewal at once) with the wallboard open in a window of its own (its
// own page, session storage and socket, opened from the desk as a second
// tab would be). The password typed into the desk's strip renews the
// login; the desk's page tells the wallboard's window on the browser's
// channel (renew.js), and the wallboard hands the new token to its socket,
// which answers renewed, and keeps it. Then the old login is logged out:
// a wallboard still on it would be closed (4002) and, its token refused,
// show the login form; this one stays connected. (A token of another agent
// is refused by the server: TestWallboardTakesTheRenewedLogin.)
func TestWallboardTakesTheDesksRenewalInBrowser(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) { c.Auth.TokenTTL = 90 * time.Second })
	b := startBrowser(t, chromedp.Flag("disable-popup-blocking", true))
	defer b.close(t)
	b.do(t, "a laptop's screen", chromedp.EmulateViewport(1366, 768))
	b.login(t, n.base, "1005")
	b.do(t, "the desk connects", chromedp.WaitVisible(chromedp.CSS(`#conn[data-conn="open"]`)))
	const deskToken = `sessionStorage.getItem('lianxin.token')`
	old := browserRun(t, b, "the desk's token", chromedp.Evaluate[string](deskToken))
	// The wallboard's window: logged in by the login the desk's tab holds
	// (a window opened from it starts with a copy of its session storage).
	b.do(t, "open the wallboard's window", chromedp.Evaluate[chromedp.Void](
		`void (window.wallboard = window.open('/wallboard', 'wallboard', 'width=1366,height=768'))`))
	const wbConn = `(() => { const c = window.wallboard && window.wallboard.document.getElementById('conn');
		return c ? c.dataset.state || '' : ''; })()`
	require.True(t, browserRun(t, b, "the wallboard connects", chromedp.Poll[bool](wbConn+` === 'open'`)))
	const wbToken = `window.wallboard.sessionStorage.getItem('lianxin.token')`
	require.Equal(t, old, browserRun(t, b, "the wallboard's token", chromedp.Evaluate[string](wbToken)))

	b.do(t, "renew on the desk", chromedp.WaitVisible(chromedp.CSS(`#renew[data-kind="soon"]`)),
		chromedp.SendKeys(chromedp.ID("renew-password"), "demo"), chromedp.Click(chromedp.ID("renew-submit")))
	require.True(t, browserRun(t, b, "the desk renews", chromedp.Poll[bool](fmt.Sprintf(`%s !== %q`, deskToken, old))))
	renewed := browserRun(t, b, "the desk's new token", chromedp.Evaluate[string](deskToken))
	require.True(t, browserRun(t, b, "the wallboard takes it", chromedp.Poll[bool](fmt.Sprintf(`%s === %q`, wbToken, renewed))),
		"the wallboard's window kept the old login")

	// The old login logged out (as from a desk left on it elsewhere; the
	// agent's desk here goes with it). The wallboard looks at its token as
	// often as it is pinged (20 s): one on the old token is cut by then.
	req, err := http.NewRequest(http.MethodPost, n.base+"/api/logout", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+old)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	time.Sleep(25 * time.Second)
	require.Equal(t, "open", browserRun(t, b, "the wallboard is still connected", chromedp.Evaluate[string](wbConn)))
	require.True(t, browserRun(t, b, "no login form", chromedp.Evaluate[bool](
		`window.wallboard.document.getElementById('login-view').hidden`)))
	require.Equal(t, renewed, browserRun(t, b, "the wallboard's token", chromedp.Evaluate[string](wbToken)))
	b.noPageErrors(t)
}
