package main

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/rtc/rtctest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// TestBrowserPhoneMediaLostInBrowser: agent 1001 talks to a caller on the browser phone in headless Chromium
// (1366×768, fake microphone); the page's media session dies (closed, as a dead network leaves it, so no ICE restart
// can bring it back). Within sip.browser_media_grace the call goes back to its queue at its old place: the caller,
// never hung up, hears the hold prompt (by content), agent 1002 — a Go browser phone, ready — rings at once with the
// same contact; the page says why in Chinese (网络中断) and shows the agent not ready for that reason, and opens a new
// media session. 1002 answers and the caller hears them.
func TestBrowserPhoneMediaLostInBrowser(t *testing.T) {
	t.Parallel()
	prompts := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(prompts, "hold.wav"),
		siptest.EncodeWAV(siptest.SineWave(holdHz, 2*siptest.SampleRate, 8000), siptest.SampleRate), 0o644))
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a", noMenus, func(c *configs.Config) {
		c.SIP.RingTimeout = 5 * time.Minute
		c.SIP.WebRTC.Loopback = true
		c.SIP.Prompts = prompts
		c.SIP.BrowserMediaGrace = 300 * time.Millisecond
	})
	gw := n.n.voice.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	b := browserPhoneAgent(t, n, "1001")
	defer b.close(t)

	call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: gw, Number: "12345", From: "13800138000"})
	require.NoError(t, err)
	b.do(t, "the desk rings; answer in the page",
		chromedp.WaitVisible(chromedp.CSS(`#phone .answer`)),
		chromedp.Click(chromedp.CSS(`#phone .answer`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-phone-state="talking"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="busy"]`)),
	)
	tn := browserRun(t, b, "the contact held", chromedp.AttributeValue(chromedp.CSS(`#contacts [data-contact]`), "data-contact")).Value
	require.NotEmpty(t, tn)
	waitCaller := func(what string, hz float64) { t.Helper(); waitHears(ctx, t, call, hz, what) }
	waitCaller("the browser's microphone", agentMicHz)

	// Agent 1002 on a Go browser phone (pion), ready: the next in line for the call.
	rang := make(chan time.Time, 1)
	var once sync.Once
	require.NoError(t, n.n.voice.OpenPhone(ctx, "1002", func(m any) {
		if c, ok := m.(sip.PhoneCall); ok && c.State == "ringing" && c.Contact == tn {
			once.Do(func() { rang <- time.Now() })
		}
	}))
	b2, err := rtctest.NewBrowser(media.PCMU, 0)
	require.NoError(t, err)
	defer b2.Close()
	offer, err := b2.Offer(ctx, false)
	require.NoError(t, err)
	answer, err := n.n.voice.PhoneOffer(ctx, "1002", offer)
	require.NoError(t, err)
	require.NoError(t, b2.SetAnswer(answer))
	require.NoError(t, b2.WaitConnected(ctx))
	b2.Say(siptest.SineWave(1700, 8000, 8000))
	d2 := desk(t, n.base, "1002")
	send(t, d2, "ready", nil)

	// The page's media session dies.
	dropped := time.Now()
	b.do(t, "the media session dies", chromedp.Evaluate[chromedp.Void](`lianxinPhone.drop()`))
	var rangAt time.Time
	select {
	case rangAt = <-rang:
	case <-ctx.Done():
		t.Fatal("agent 1002 was never rung with the call")
	}
	t.Logf("in Chromium: media session closed to agent 1002's phone ringing: %v (grace %v)",
		rangAt.Sub(dropped), 300*time.Millisecond)
	b.do(t, "the page says the call went back to the queue, and the agent is not ready",
		chromedp.WaitVisible(chromedp.CSS(`body[data-requeued="`+tn+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="not_ready"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-phone-state="idle"]`)),
	)
	toasts := browserRun(t, b, "toasts", chromedp.Text(chromedp.ID("toast")))
	require.Contains(t, toasts, "网络中断")
	require.Contains(t, toasts, "退回队列")
	require.Contains(t, browserRun(t, b, "status bar", chromedp.Text(chromedp.ID("state-reason"))), "网络中断")
	waitCaller("hold audio after the requeue", holdHz)
	require.False(t, callEnded(call), "the caller is still on the line")
	b.statusBarOneLine(t)
	b.screenshot(t, "requeued")

	ct, err := n.n.q.Contact(ctx, tn)
	require.NoError(t, err)
	require.Equal(t, queue.StateOffered, ct.State)
	require.Equal(t, "1002", ct.Agent)
	require.NoError(t, n.n.voice.PhoneAnswer(ctx, "1002"))
	waitCaller("agent 1002", 1700)
	b.do(t, "the page has a new media session", chromedp.WaitVisible(chromedp.CSS(`body[data-phone-media="connected"]`)))
	b.noPageErrors(t)
}

func callEnded(c *siptest.GoCall) bool {
	select {
	case <-c.Ended():
		return true
	default:
		return false
	}
}
