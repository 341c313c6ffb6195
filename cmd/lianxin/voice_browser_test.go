package main

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// TestVoiceCallInBrowser: agent 1001's desk in headless Chromium at a
// laptop's 1366×768, baresip registered as 1001's phone. The status bar says
// the phone is registered; a Go caller dials 12345 and the desk shows the
// ringing call (电话, the line, the caller's number); the phone answers and
// the call is the agent's; the caller hangs up and the desk shows the call in
// wrap-up with 市民挂机; the agent wraps it up in the page and it goes.
//
// The phone answers when the test says so (after the offer's screenshot),
// not by auto-answer: baresip 1.0.0 answers at once, and the offer card
// would be gone before anyone, or any screenshot, could see it.
func TestVoiceCallInBrowser(t *testing.T) {
	t.Parallel()
	siptest.RequireTools(t, "baresip")
	s := queuetest.RedisServer(t)
	// The phone must not stop ringing while a slow machine takes a screenshot.
	n := startNode(t, s.URL, "node-a", noMenus, func(c *configs.Config) { c.SIP.RingTimeout = 5 * time.Minute })
	gw := n.n.voice.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	b := startBrowser(t)
	defer b.close(t)
	b.do(t, "a laptop's screen", chromedp.EmulateViewport(1366, 768))
	b.login(t, n.base, "1001")
	b.do(t, "go ready, no phone yet",
		chromedp.WaitVisible(chromedp.CSS(`#conn[data-conn="open"]`)),
		chromedp.Click(chromedp.ID("btn-ready")),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="ready"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#sip-phone[data-phone="off"]`)),
	)
	require.Equal(t, "话机未注册", browserRun(t, b, "no phone in the status bar", chromedp.Text(chromedp.ID("sip-phone"))),
		"the agent sees why no calls come")

	// The phone registers; the status bar says so.
	phone := siptest.Baresip(t, siptest.BaresipOptions{SIPAddr: gw, User: "1001", Password: "demo"})
	require.NoError(t, phone.WaitRegistered(ctx))
	b.do(t, "the phone registered", chromedp.WaitVisible(chromedp.CSS(`#sip-phone[data-phone="on"]`)))
	require.Equal(t, "话机已注册", browserRun(t, b, "phone in the status bar", chromedp.Text(chromedp.ID("sip-phone"))))
	b.statusBarOneLine(t)

	// 1. A citizen calls 12345; the phone rings and the desk shows the offer.
	call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: gw, Number: "12345", From: "13800138000"})
	require.NoError(t, err)
	_, err = phone.WaitEvent(ctx, "CALL_INCOMING", 0)
	require.NoError(t, err)
	offer := `#offers [data-offer]`
	b.do(t, "wait for the call's offer", chromedp.WaitVisible(chromedp.CSS(offer)))
	tn := browserRun(t, b, "offer's tracking no", chromedp.AttributeValue(chromedp.CSS(offer), "data-offer")).Value
	require.NotEmpty(t, tn)
	head := browserRun(t, b, "offer head", chromedp.Text(chromedp.CSS(offer+" .offer-head")))
	require.Contains(t, head, "电话")
	require.Contains(t, head, "12345", "the line")
	require.Contains(t, browserRun(t, b, "offer's caller", chromedp.Text(chromedp.CSS(offer+" .offer-citizen"))),
		"138 0013 8000", "the caller's number, as an agent reads it")
	require.Contains(t, browserRun(t, b, "offer subject", chromedp.Text(chromedp.CSS(offer+" .offer-subject"))), "来电")
	b.statusBarOneLine(t)
	b.settled(t)
	b.screenshot(t, "offer")

	// 2. The phone answers: the call is the agent's, on screen.
	require.NoError(t, phone.Answer(ctx))
	contact := `#contacts [data-contact="` + tn + `"]`
	b.do(t, "wait for the call in the workspace",
		chromedp.WaitNotPresent(chromedp.CSS(offer)),
		chromedp.WaitVisible(chromedp.CSS(contact)),
		chromedp.WaitVisible(chromedp.CSS(`#detail[data-contact="`+tn+`"] #detail-meta`)),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="busy"]`)),
	)
	listed := browserRun(t, b, "contact in the list", chromedp.Text(chromedp.CSS(contact)))
	require.Contains(t, listed, "通话中")
	require.Contains(t, listed, "138 0013 8000", "a call is listed by its caller")
	meta := browserRun(t, b, "detail meta", chromedp.Text(chromedp.ID("detail-meta")))
	require.Contains(t, meta, "138 0013 8000")
	require.Contains(t, meta, "12345")
	require.Contains(t, browserRun(t, b, "detail channel", chromedp.Text(chromedp.ID("detail-channel"))), "电话")
	b.statusBarOneLine(t)
	b.screenshot(t, "talking")

	// 3. The caller hangs up: the call waits for wrap-up, and the page says who hung up.
	require.NoError(t, call.Hangup(ctx))
	b.do(t, "wait for the call to end",
		chromedp.WaitVisible(chromedp.CSS(contact+` .phase`)),
		chromedp.WaitVisible(chromedp.ID("detail-phase")),
		chromedp.WaitVisible(chromedp.CSS(`#toast .toast-item`)),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="wrap_up"]`)),
	)
	require.Contains(t, browserRun(t, b, "contact's phase", chromedp.Text(chromedp.CSS(contact+` .phase`))), "话后")
	require.Contains(t, browserRun(t, b, "toast", chromedp.Text(chromedp.ID("toast"))), "市民挂机")
	require.Contains(t, browserRun(t, b, "detail meta", chromedp.Text(chromedp.ID("detail-meta"))), "市民挂机",
		"who hung up stays on screen after the toast")
	require.Contains(t, browserRun(t, b, "detail meta", chromedp.Text(chromedp.ID("detail-meta"))), "通话时长",
		"how long the call lasted")
	require.True(t, browserRun(t, b, "end button", chromedp.Evaluate[bool](`document.getElementById('btn-end').disabled`)),
		"an ended call cannot be ended again")
	b.statusBarOneLine(t)
	b.screenshot(t, "ended")

	// 4. Wrap it up in the page; it goes.
	b.do(t, "wrap up", wrapUp("consultation", "resolved",
		chromedp.WaitNotPresent(chromedp.CSS(contact)),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="ready"]`)))...)
	_, err = phone.WaitEvent(ctx, "CALL_CLOSED", 0)
	require.NoError(t, err)

	// The longest status an agent has: not ready, with a reason, phone gone.
	b.do(t, "go not ready for a meal",
		chromedp.SetValue(chromedp.ID("notready-reason"), "meal"),
		chromedp.Click(chromedp.ID("btn-notready")),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="not_ready"]`)),
	)
	require.Equal(t, "用餐", browserRun(t, b, "not-ready reason", chromedp.Text(chromedp.ID("state-reason"))))
	phone.Stop(5 * time.Second) // baresip unregisters as it quits
	b.do(t, "the phone is gone", chromedp.WaitVisible(chromedp.CSS(`#sip-phone[data-phone="off"]`)))
	b.screenshot(t, "not-ready")
	b.statusBarOneLine(t)
	b.noPageErrors(t)
}

// statusBarOneLine fails when the status bar wraps onto a second row or
// spills out of the window: at 1366 px it must stay one row.
func (b *deskBrowser) statusBarOneLine(t *testing.T) {
	t.Helper()
	type layout struct {
		Rows        int `json:"rows"`
		ScrollWidth int `json:"scrollWidth"`
		ClientWidth int `json:"clientWidth"`
		WindowWidth int `json:"windowWidth"`
	}
	l := browserRun(t, b, "status bar layout", chromedp.Evaluate[layout](`(() => {
		const bar = document.querySelector('.statusbar');
		const rows = new Set();
		for (const c of bar.children) {
			if (c.offsetParent === null) continue;
			const r = c.getBoundingClientRect();
			rows.add(Math.round(r.top + r.height / 2));
		}
		return {rows: rows.size, scrollWidth: bar.scrollWidth, clientWidth: bar.clientWidth,
			windowWidth: document.documentElement.clientWidth};
	})()`))
	require.Equal(t, 1, l.Rows, "the status bar's items sit on more than one row: %+v", l)
	require.LessOrEqual(t, l.ScrollWidth, l.ClientWidth, "the status bar spills out: %+v", l)
	require.LessOrEqual(t, l.ClientWidth, l.WindowWidth, "the status bar is wider than the window: %+v", l)
}

// settled waits until the page's CSS animations (an offer card sliding in)
// have finished, so a screenshot shows what an agent sees.
func (b *deskBrowser) settled(t *testing.T) {
	t.Helper()
	require.True(t, browserRun(t, b, "animations to finish", chromedp.Poll[bool](
		`document.getAnimations().filter((a) => a instanceof CSSAnimation).every((a) => a.playState === 'finished')`)))
}
