package main

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lianxin/lianxin/channels/linkage"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// TestBrowserPhoneTellsHowALineTransferGoes: agent 1001 talks to a caller on
// the browser phone (Chromium at 1366×768, a fake microphone) and asks a
// warm transfer to 120 in the transfer dialog. 120 (a sipp UAS) rings 3 s
// and answers busy. The phone bar shows 120 being called (a second press of
// 转120 meanwhile is refused as under way, and the bar still says so), then that the
// transfer failed, why, and that the agent still talks to the caller —
// who hears the agent again, by content — and the agent gets a toast that
// says so. The bar stays on one row.
func TestBrowserPhoneTellsHowALineTransferGoes(t *testing.T) {
	t.Parallel()
	siptest.RequireTools(t, "sipp")
	line := siptest.Sipp(t, siptest.SippOptions{Scenario: "line-busy.xml", AutoAnswer: true, Calls: 1})
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a", noMenus, func(c *configs.Config) {
		c.SIP.RingTimeout = 5 * time.Minute
		c.SIP.WebRTC.Loopback = true
		c.SIP.Trunk.Proxy = line.Addr()
		c.SIP.Transfer.Targets = map[string]linkage.Target{"120": {URI: "sip:120@120.emergency.invalid"}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b := browserPhoneAgent(t, n, "1001")
	defer b.close(t)

	call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: n.n.voice.Addr().String(), Number: "12345",
		From: "13800138000"})
	require.NoError(t, err)
	b.do(t, "the desk rings; answer in the page",
		chromedp.WaitVisible(chromedp.CSS(`#phone .answer`)),
		chromedp.Click(chromedp.CSS(`#phone .answer`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-phone-state="talking"]`)),
	)
	waitHears(ctx, t, call, agentMicHz, "the browser's microphone")

	b.do(t, "a warm transfer to 120 in the dialog",
		chromedp.Click(chromedp.CSS(`#phone button.transfer`)),
		chromedp.WaitVisible(chromedp.ID("phone-transfer")),
		chromedp.SetValue(chromedp.CSS(`#phone-transfer [name=to]`), "120"),
		chromedp.SetValue(chromedp.CSS(`#phone-transfer [name=mode]`), "warm"),
		chromedp.SendKeys(chromedp.CSS(`#phone-transfer [name=note]`), "老人胸痛"),
		chromedp.Click(chromedp.CSS(`#phone-transfer button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#phone .phone-xfer[data-state="calling"]`)),
	)
	require.Equal(t, "呼叫120…", browserRun(t, b, "the bar while 120 rings",
		chromedp.Text(chromedp.CSS(`#phone .phone-xfer`))))
	// A second press (转120 on the bar, blind) while 120 still rings is
	// refused by the node as under way; the bar still says 120 is called.
	b.do(t, "press 转120 again while 120 rings", chromedp.Click(chromedp.CSS(`#phone button.quick[title="一键转 120"]`)))
	require.True(t, browserRun(t, b, "the second press answered", chromedp.Poll[bool](
		`document.getElementById('toast').textContent.includes('已有一个转接正在进行')`)))
	require.Equal(t, "呼叫120…", browserRun(t, b, "the bar after the second press",
		chromedp.Text(chromedp.CSS(`#phone .phone-xfer`))))
	b.screenshot(t, "calling-120")

	b.do(t, "120 is busy", chromedp.WaitVisible(chromedp.CSS(`#phone .phone-xfer[data-state="failed"]`)))
	require.Equal(t, "转120失败：占线", browserRun(t, b, "the bar once 120 was busy",
		chromedp.Text(chromedp.CSS(`#phone .phone-xfer`))))
	require.True(t, browserRun(t, b, "the bar's text is whole", chromedp.Evaluate[bool](
		`(() => { const x = document.querySelector('#phone .phone-xfer'); return x.scrollWidth <= x.clientWidth; })()`)),
		"the bar says why in full, not cut short")
	require.Equal(t, "转120未成功：对方占线，您仍在与来电人通话", browserRun(t, b, "the bar's title",
		chromedp.AttributeValue(chromedp.CSS(`#phone .phone-xfer`), "title")).Value)
	require.Contains(t, browserRun(t, b, "the toasts", chromedp.Text(chromedp.ID("toast"))),
		"转120未成功：对方占线，您仍在与来电人通话")
	require.Equal(t, "talking", browserRun(t, b, "phone state",
		chromedp.AttributeValue(chromedp.CSS(`body`), "data-phone-state")).Value)
	waitHears(ctx, t, call, agentMicHz, "the agent after 120 was busy")
	require.True(t, browserRun(t, b, "phone bar fits", chromedp.Evaluate[bool](`(() => {
		const bar = document.getElementById('phone');
		return bar.scrollWidth <= bar.clientWidth && bar.getBoundingClientRect().height < 60;
	})()`)), "the phone bar, with the transfer's failure, fits on one row at 1366 px")
	b.screenshot(t, "120-busy")

	b.do(t, "hang up", chromedp.Click(chromedp.CSS(`#phone .hangup`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-phone-state="idle"]`)))
	res, err := line.Wait()
	require.NoError(t, err)
	require.Equal(t, 1, res.Successful, "%s", res.Errors)
	b.noPageErrors(t)
}

// TestDeskSIPPhoneTransfersToALine: agent 1001 takes calls on a SIP phone
// (baresip, answering by itself) and keeps the desk (Chromium at 1366×768)
// on the SIP phone. During a call the desk's bar shows the call and the
// transfers; 转120 (blind) calls 120 (a sipp UAS that rings 3 s and is busy).
// The bar shows 120 being called; once busy, the toast says the caller went
// back to the queue, and the contact, handed back (transferred), leaves the
// agent's list — to come back to the same agent, the only one ready.
func TestDeskSIPPhoneTransfersToALine(t *testing.T) {
	t.Parallel()
	siptest.RequireTools(t, "sipp", "baresip")
	line := siptest.Sipp(t, siptest.SippOptions{Scenario: "line-busy.xml", AutoAnswer: true, Calls: 1})
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a", noMenus, func(c *configs.Config) {
		c.SIP.Trunk.Proxy = line.Addr()
		c.SIP.Transfer.Targets = map[string]linkage.Target{"120": {URI: "sip:120@120.emergency.invalid"}}
	})
	gw := n.n.voice.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	phone := siptest.Baresip(t, siptest.BaresipOptions{SIPAddr: gw, User: "1001", Password: "demo", AutoAnswer: true})
	require.NoError(t, phone.WaitRegistered(ctx))

	b := startBrowser(t)
	defer b.close(t)
	b.do(t, "a laptop's screen", chromedp.EmulateViewport(1366, 768))
	b.login(t, n.base, "1001")
	b.goReady(t) // on the SIP phone, the default
	call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: gw, Number: "12345", From: "13800138000"})
	require.NoError(t, err)
	_, err = phone.WaitEvent(ctx, "CALL_ESTABLISHED", 0)
	require.NoError(t, err)
	quick := `#phone button.quick[title="一键转 120"]`
	b.do(t, "the bar shows the SIP phone's call and the transfers", chromedp.WaitVisible(chromedp.CSS(quick)))
	tn := browserRun(t, b, "the call held", chromedp.AttributeValue(chromedp.CSS(`#contacts [data-contact]`),
		"data-contact")).Value
	bar := browserRun(t, b, "the bar", chromedp.Text(chromedp.ID("phone")))
	require.Contains(t, bar, "SIP 话机通话中")
	require.Contains(t, bar, "138 0013 8000")
	require.NotContains(t, bar, "浏览器", "the phone's choice gives its room to the call")
	waitHears(ctx, t, call, siptest.AgentToneHz, "the agent's SIP phone")

	b.do(t, "转120", chromedp.Click(chromedp.CSS(quick)),
		chromedp.WaitVisible(chromedp.CSS(`#phone .phone-xfer[data-state="calling"]`)))
	require.Contains(t, browserRun(t, b, "the bar while 120 rings", chromedp.Text(chromedp.ID("phone"))), "转出中",
		"blind: the phone was hung up, the caller waits for 120")
	require.Equal(t, "转120中", browserRun(t, b, "the contact's chip in the list",
		chromedp.Text(chromedp.CSS(`#contacts [data-contact] .chip.phase`))), "the agent no longer talks to the caller")
	require.Equal(t, "转120中", browserRun(t, b, "the contact's phase on screen", chromedp.Text(chromedp.ID("detail-phase"))))
	b.screenshot(t, "sip-calling-120")
	require.True(t, browserRun(t, b, "120 was busy: the agent is told, the contact handed back", chromedp.Poll[bool](
		`(() => { const t = document.getElementById('toast').textContent;
			return t.includes('转120未成功：对方占线，来电已回到队列优先等待') && t.includes('`+tn+` 已转回队列'); })()`)))
	b.screenshot(t, "sip-120-busy")
	require.NoError(t, call.Hangup(ctx))
	res, err := line.Wait()
	require.NoError(t, err)
	require.Equal(t, 1, res.Successful, "%s", res.Errors)
	b.noPageErrors(t)
}
