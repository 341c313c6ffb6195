package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// TestSupervisorBrowserPhoneMonitorInBrowser: supervisor 1005's desk in
// headless Chromium at 1366×768 uses the browser phone (a fake microphone
// playing 2300 Hz). Agent 1001 (baresip) talks with a caller; the
// supervisor's wallboard sends monitor: the desk's phone bar shows 监听中
// with the agent and the contact, and no control but 停止监听 (no hold,
// mute, keypad or transfer); the browser hears the call (inbound audio grows,
// its strongest frequency is the caller's or the agent's tone) and the caller
// hears nothing of the supervisor's microphone. 停止监听 sends monitor_stop:
// the bar goes idle and the wallboard is told ended/stopped; the call goes on.
func TestSupervisorBrowserPhoneMonitorInBrowser(t *testing.T) {
	t.Parallel()
	siptest.RequireTools(t, "baresip")
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a", noMenus, func(c *configs.Config) { c.SIP.WebRTC.Loopback = true })
	gw := n.n.voice.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	agentPhone := siptest.Baresip(t, siptest.BaresipOptions{SIPAddr: gw, User: "1001", Password: "demo", AutoAnswer: true})
	require.NoError(t, agentPhone.WaitRegistered(ctx))
	agent := desk(t, n.base, "1001")
	send(t, agent, "ready", nil)

	b := browserPhoneDesk(t, n, "1005", supervisorToneHz) // the supervisor's desk, on the browser phone
	defer b.close(t)

	call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: gw, Number: "12345", From: "13800138000"})
	require.NoError(t, err)
	_, err = agentPhone.WaitEvent(ctx, "CALL_ESTABLISHED", 0)
	require.NoError(t, err)

	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	wb, _, err := desktest.DialWallboard(wctx, n.base, loginToken(t, n.base, "1005"))
	require.NoError(t, err)
	defer wb.Close()
	send(t, wb, "monitor", map[string]any{"agent": "1001"})
	on := next(t, wb, "monitoring")
	for on.State != "listening" {
		on = next(t, wb, "monitoring")
	}
	var tn string
	require.NoError(t, json.Unmarshal(on.Contact, &tn))
	require.NotEmpty(t, tn)

	b.do(t, "the desk's phone bar listens in",
		chromedp.WaitVisible(chromedp.CSS(`body[data-phone-state="monitoring"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#phone.monitoring .monitor-stop`)))
	bar := browserRun(t, b, "phone bar", chromedp.Text(chromedp.ID("phone")))
	for _, want := range []string{"监听中", "坐席 1001", tn, "停止监听"} {
		require.Contains(t, bar, want)
	}
	buttons := browserRun(t, b, "the bar's buttons", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#phone button')].map((b) => b.textContent)`))
	require.Equal(t, []string{"停止监听"}, buttons, "no hold, mute, keypad or transfer while listening in")

	// The browser hears the call; the caller hears nothing of the supervisor.
	from := len(call.Rec.Audio())
	s1 := browserRun(t, b, "stats", chromedp.Evaluate[phoneStats](`lianxinPhone.stats()`, chromedp.EvalAwaitPromise))
	require.NotNil(t, s1.Inbound)
	waitJS(t, b, "inbound grows with the call's audio", `const s = await lianxinPhone.stats();
		return s.inbound.packets >= `+itoa(s1.Inbound.Packets+100)+` && s.inbound.energy > `+ftoa(s1.Inbound.Energy)+
		` && s.inbound.audioLevel > 0.01;`)
	require.True(t, browserRun(t, b, "what the supervisor hears", chromedp.Poll[bool](`(() => {
		const hz = lianxinPhone.inboundPeak().hz;
		return Math.abs(hz - 1000) < 60 || Math.abs(hz - 1700) < 60;
	})()`)), "the page's analyser finds the caller's or the agent's tone")
	require.True(t, browserRun(t, b, "meter", chromedp.Poll[bool](`Number(document.body.dataset.phoneLevelIn) > 0.2`)))
	require.NoError(t, call.Rec.WaitFor(ctx, func(p []siptest.RTPPacket) bool { return len(p) >= from/160+100 }))
	heard := call.Rec.Audio()[from:]
	cs, nw := windowed(heard, supervisorToneHz)
	ca, _ := windowed(heard, siptest.AgentToneHz)
	t.Logf("while the browser listened in, the caller heard %d windows: agent %.3f, supervisor %.4f", nw, ca, cs)
	require.Greater(t, nw, 50)
	require.Less(t, cs, 0.01, "the caller hears nothing of the supervisor's microphone")
	require.True(t, browserRun(t, b, "phone bar fits", chromedp.Evaluate[bool](`(() => {
		const bar = document.getElementById('phone');
		return bar.scrollWidth <= bar.clientWidth && bar.getBoundingClientRect().height < 60;
	})()`)), "the phone bar fits on one row at 1366 px")
	b.statusBarOneLine(t)
	b.settled(t)
	b.screenshot(t, "supervisor-monitoring")

	b.do(t, "停止监听", chromedp.Click(chromedp.CSS(`#phone .monitor-stop`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-phone-state="idle"]`)))
	for {
		m := next(t, wb, "monitoring")
		if m.State == "ended" {
			require.Equal(t, "stopped", m.Reason)
			break
		}
	}
	require.False(t, strings.Contains(browserRun(t, b, "phone bar", chromedp.Text(chromedp.ID("phone"))), "监听中"))
	select {
	case <-call.Ended():
		t.Fatal("the call ended with the monitor")
	default:
	}
	b.noPageErrors(t)
}
