package main

import (
	"context"
	bin "encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

const (
	agentMicHz = 1400.0 // the tone Chromium's fake microphone plays
	holdHz     = 600.0  // the hold prompt of this test
)

// micWAV writes a 48 kHz 16-bit mono WAV of a steady tone, for --use-file-for-fake-audio-capture.
func micWAV(t *testing.T, hz float64) string {
	const rate, secs = 48000, 10
	n := rate * secs
	data := make([]byte, 44+2*n)
	copy(data[0:], "RIFF")
	bin.LittleEndian.PutUint32(data[4:], uint32(36+2*n))
	copy(data[8:], "WAVEfmt ")
	bin.LittleEndian.PutUint32(data[16:], 16)
	bin.LittleEndian.PutUint16(data[20:], 1)
	bin.LittleEndian.PutUint16(data[22:], 1)
	bin.LittleEndian.PutUint32(data[24:], rate)
	bin.LittleEndian.PutUint32(data[28:], rate*2)
	bin.LittleEndian.PutUint16(data[32:], 2)
	bin.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	bin.LittleEndian.PutUint32(data[40:], uint32(2*n))
	for i := 0; i < n; i++ {
		v := int16(12000 * math.Sin(2*math.Pi*hz*float64(i)/rate))
		bin.LittleEndian.PutUint16(data[44+2*i:], uint16(v))
	}
	p := filepath.Join(t.TempDir(), "mic.wav")
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

type phoneStats struct {
	State   string `json:"state"`
	Inbound *struct {
		Packets    int     `json:"packets"`
		Bytes      int     `json:"bytes"`
		AudioLevel float64 `json:"audioLevel"`
		Energy     float64 `json:"energy"`
	} `json:"inbound"`
	Outbound *struct {
		Packets int `json:"packets"`
	} `json:"outbound"`
}

// TestBrowserPhoneInBrowser: agent 1001 in headless Chromium at 1366×768 with a fake microphone playing a
// 1400 Hz tone chooses the browser as their phone and goes ready. A caller dials 12345 (a Go SIP caller over UDP,
// which records what it hears: sipp cannot); the desk rings (the offer, the ring sound counted, the phone bar),
// the agent answers in the page, and the audio flows both ways, checked by content: the caller hears 1400 Hz from
// the browser, and the browser's inbound audio (getStats packets, bytes, energy) grows with the caller's 1000 Hz,
// which the page's analyser finds as the strongest frequency. The agent holds (the caller hears the hold prompt's
// 600 Hz), takes the call back, presses 5 on the keypad (the caller gets RFC 4733 key 5), hangs up (the caller
// gets BYE) and wraps up.
func TestBrowserPhoneInBrowser(t *testing.T) {
	t.Parallel()
	prompts := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(prompts, "hold.wav"),
		siptest.EncodeWAV(siptest.SineWave(holdHz, 2*siptest.SampleRate, 8000), siptest.SampleRate), 0o644))
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a", noMenus, func(c *configs.Config) {
		c.SIP.RingTimeout = 5 * time.Minute
		c.SIP.WebRTC.Loopback = true
		c.SIP.Prompts = prompts
	})
	gw := n.n.voice.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	b := browserPhoneAgent(t, n, "1001")
	defer b.close(t)
	b.statusBarOneLine(t)
	b.screenshot(t, "idle")

	// A citizen calls; the desk rings.
	call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: gw, Number: "12345", From: "13800138000"})
	require.NoError(t, err)
	offer := `#offers [data-offer]`
	b.do(t, "the desk rings",
		chromedp.WaitVisible(chromedp.CSS(offer)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-phone-state="ringing"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#phone .answer`)),
	)
	tn := browserRun(t, b, "offer's tracking no", chromedp.AttributeValue(chromedp.CSS(offer), "data-offer")).Value
	require.NotEmpty(t, tn)
	require.True(t, browserRun(t, b, "ring sounds", chromedp.Poll[bool](
		`Number(document.body.dataset.phoneRings) >= 1 && Number(document.body.dataset.rings) >= 1`)),
		"the ringing call played the phone's ring and the offer's sound")
	require.Contains(t, browserRun(t, b, "phone bar", chromedp.Text(chromedp.ID("phone"))), "138 0013 8000")
	b.settled(t)
	b.screenshot(t, "ringing")

	// Answer in the page; time until the caller's audio arrives at the browser.
	before := browserRun(t, b, "stats before", chromedp.Evaluate[phoneStats](`lianxinPhone.stats()`, chromedp.EvalAwaitPromise))
	base := 0
	if before.Inbound != nil {
		base = before.Inbound.Packets
	}
	ms := browserRun(t, b, "answer, and wait for the caller's audio", chromedp.Evaluate[float64](`(async () => {
		const t0 = performance.now();
		document.querySelector('#phone .answer').click();
		for (;;) {
			const s = await lianxinPhone.stats();
			if (s.inbound && s.inbound.packets > `+itoa(base)+`) return performance.now() - t0;
			await new Promise((r) => setTimeout(r, 5));
		}
	})()`, chromedp.EvalAwaitPromise))
	t.Logf("call-answer-to-audio in Chromium (click on 接听 to the first inbound RTP packet in getStats): %.0f ms", ms)
	b.do(t, "the call is up", chromedp.WaitVisible(chromedp.CSS(`body[data-phone-state="talking"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="busy"]`)))

	// The caller hears the browser's microphone.
	waitCaller := func(what string, hz float64) { t.Helper(); waitHears(ctx, t, call, hz, what) }
	waitCaller("the browser's microphone", agentMicHz)
	// The browser hears the caller: inbound statistics grow, with energy, and the caller's tone is the peak.
	s1 := browserRun(t, b, "stats", chromedp.Evaluate[phoneStats](`lianxinPhone.stats()`, chromedp.EvalAwaitPromise))
	require.NotNil(t, s1.Inbound)
	waitJS(t, b, "inbound grows with the caller's audio", `const s = await lianxinPhone.stats();
		return s.inbound.packets >= `+itoa(s1.Inbound.Packets+50)+` && s.inbound.bytes > `+itoa(s1.Inbound.Bytes)+
		` && s.inbound.energy > `+ftoa(s1.Inbound.Energy)+` && s.inbound.audioLevel > 0.01;`)
	require.True(t, browserRun(t, b, "the caller's tone is what the agent hears", chromedp.Poll[bool](
		`Math.abs(lianxinPhone.inboundPeak().hz - 1000) < 60`)), "the page's analyser finds the caller's 1000 Hz")
	b.do(t, "the level meters move", chromedp.WaitVisible(chromedp.CSS(`#phone .meter-in`)))
	require.True(t, browserRun(t, b, "meters", chromedp.Poll[bool](
		`Number(document.body.dataset.phoneLevelIn) > 0.2 && Number(document.body.dataset.phoneLevelOut) > 0.2`)))
	b.statusBarOneLine(t)
	require.True(t, browserRun(t, b, "phone bar fits", chromedp.Evaluate[bool](`(() => {
		const bar = document.getElementById('phone');
		return bar.scrollWidth <= bar.clientWidth && bar.getBoundingClientRect().height < 60;
	})()`)), "the phone bar's controls fit on one row at 1366 px")
	b.settled(t)
	b.screenshot(t, "talking")

	// Hold: the caller hears the hold prompt; back: the agent again.
	b.do(t, "hold", chromedp.Click(chromedp.CSS(`#phone .hold`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-phone-state="held"]`)))
	waitCaller("hold", holdHz)
	b.screenshot(t, "held")
	b.do(t, "take the call back", chromedp.Click(chromedp.CSS(`#phone .hold`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-phone-state="talking"]`)))
	waitCaller("the agent after hold", agentMicHz)

	// A key on the keypad reaches the caller as RFC 4733.
	b.do(t, "press 5", chromedp.Click(chromedp.CSS(`#phone .keypad .key:nth-child(5)`)))
	for call.Rec.Digits(101) != "5" {
		select {
		case <-ctx.Done():
			t.Fatalf("the caller got keys %q, want 5", call.Rec.Digits(101))
		case <-time.After(50 * time.Millisecond):
		}
	}

	// Hang up in the page: the caller gets BYE; wrap up.
	b.do(t, "hang up", chromedp.Click(chromedp.CSS(`#phone .hangup`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-phone-state="idle"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="wrap_up"]`)))
	select {
	case <-call.Ended():
	case <-ctx.Done():
		t.Fatal("the caller got no BYE")
	}
	b.screenshot(t, "wrapup")
	contact := `#contacts [data-contact="` + tn + `"]`
	b.do(t, "wrap up", wrapUp("consultation", "resolved",
		chromedp.WaitNotPresent(chromedp.CSS(contact)),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="ready"]`)))...)
	b.noPageErrors(t)
}

// browserPhoneDesk opens the desk of agent in headless Chromium at 1366×768, with a fake microphone playing a tone
// of micHz, and chooses the browser phone; it waits for its media session.
func browserPhoneDesk(t *testing.T, n *testNode, agent string, micHz float64) *deskBrowser {
	t.Helper()
	b := startBrowser(t,
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", micWAV(t, micHz)),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
	)
	b.do(t, "a laptop's screen", chromedp.EmulateViewport(1366, 768))
	b.login(t, n.base, agent)
	b.do(t, "choose the browser phone; its media session connects",
		chromedp.WaitVisible(chromedp.CSS(`#conn[data-conn="open"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#phone .phone-choice`)),
		chromedp.Click(chromedp.CSS(`#phone .phone-choice .seg:last-of-type`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-phone-media="connected"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#phone .phone-media[data-media="connected"]`)),
	)
	return b
}

// browserPhoneAgent is browserPhoneDesk with agentMicHz, and the agent goes ready.
func browserPhoneAgent(t *testing.T, n *testNode, agent string) *deskBrowser {
	t.Helper()
	b := browserPhoneDesk(t, n, agent, agentMicHz)
	b.goReady(t)
	return b
}

// waitHears waits until the caller hears a tone of hz (its last 200 ms, by content).
func waitHears(ctx context.Context, t *testing.T, call *siptest.GoCall, hz float64, what string) {
	t.Helper()
	for {
		a := call.Rec.Audio()
		if len(a) >= 1600 && siptest.HasTone(a[len(a)-1600:], hz) {
			return
		}
		select {
		case <-ctx.Done():
			got := 0.0
			if len(a) >= 1600 {
				got = siptest.Tone(a[len(a)-1600:], hz)
			}
			t.Fatalf("%s: the caller never heard %v Hz (last ratio %.2f, %d samples)", what, hz, got, len(a))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func itoa(n int) string     { return strconv.Itoa(n) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// waitJS waits (bounded by browserWait) until the body of an async function, body, returns true in the page.
func waitJS(t *testing.T, b *deskBrowser, what, body string) {
	t.Helper()
	require.True(t, browserRun(t, b, what, chromedp.Evaluate[bool](`(async () => {
		for (;;) {
			if (await (async () => { `+body+` })()) return true;
			await new Promise((r) => setTimeout(r, 50));
		}
	})()`, chromedp.EvalAwaitPromise)), what)
}

// TestBrowserPhoneMicrophoneDenied: Chromium refuses the microphone (no fake permission UI: headless denies it);
// choosing the browser phone says why in Chinese, with a way to retry, and the agent's calls still ring nowhere
// new (no session, no binding).
func TestBrowserPhoneMicrophoneDenied(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a", noMenus, func(c *configs.Config) { c.SIP.WebRTC.Loopback = true })
	b := startBrowser(t, chromedp.Flag("use-fake-device-for-media-stream", true))
	defer b.close(t)
	b.do(t, "a laptop's screen", chromedp.EmulateViewport(1366, 768))
	b.login(t, n.base, "1001")
	b.do(t, "choose the browser phone",
		chromedp.WaitVisible(chromedp.CSS(`#conn[data-conn="open"]`)),
		chromedp.Click(chromedp.CSS(`#phone .phone-choice .seg:last-of-type`)),
		chromedp.WaitVisible(chromedp.CSS(`#phone .phone-error`)),
	)
	msg := browserRun(t, b, "the error", chromedp.Text(chromedp.CSS(`#phone .phone-error`)))
	require.Contains(t, msg, "麦克风", "the agent is told it is the microphone: %q", msg)
	require.Contains(t, msg, "重新连接", "and how to retry: %q", msg)
	require.Contains(t, browserRun(t, b, "retry button", chromedp.Text(chromedp.CSS(`#phone`))), "重新连接")
	until, err := n.n.q.Phone(context.Background(), "1001")
	require.NoError(t, err)
	require.True(t, until.IsZero(), "no phone binding without a microphone")
	b.statusBarOneLine(t)
	b.screenshot(t, "mic-denied")
	b.noPageErrors(t)
}

// A login that runs out in the middle of a call on the browser phone does not
// cut the call. Near the login's end the desk says so (the strip that offers
// to renew it, which the agent does not do here; 就绪 and 未就绪
// disabled) and the agent stays busy; well past the token's time the caller
// still hears the agent's microphone and the browser the caller, by content;
// the agent hangs up and wraps up, and only then the desk goes to the login
// page, saying why.
func TestBrowserCallOutlivesTheLogin(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	// Desks are checked every 20 s: this login starts running out at the
	// second or third check after the desk connects (left ≤ 40 s), which
	// leaves 40 s or more to get the call up on a busy machine.
	const ttl = 90 * time.Second
	n := startNode(t, s.URL, "node-a", noMenus, func(c *configs.Config) {
		c.SIP.RingTimeout = 5 * time.Minute
		c.SIP.WebRTC.Loopback = true
		c.Auth.TokenTTL = ttl
	})
	gw := n.n.voice.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	loggedIn := time.Now()
	b := browserPhoneAgent(t, n, "1001")
	defer b.close(t)

	call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: gw, Number: "12345", From: "13800138000"})
	require.NoError(t, err)
	b.do(t, "answer the call", chromedp.WaitVisible(chromedp.CSS(`#phone .answer`)),
		chromedp.Click(chromedp.CSS(`#phone .answer`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-phone-state="talking"]`)))
	tn := browserRun(t, b, "the call's tracking no", chromedp.AttributeValue(chromedp.CSS(`#contacts [data-contact]`),
		"data-contact")).Value
	waitHears(ctx, t, call, agentMicHz, "the agent")

	b.do(t, "the login runs out", chromedp.WaitVisible(chromedp.CSS(`#renew[data-kind="ending"]`)))
	require.Contains(t, browserRun(t, b, "strip", chromedp.Text(chromedp.ID("renew-text"))), "登录已到期")
	require.True(t, browserRun(t, b, "presence disabled", chromedp.Evaluate[bool](
		`['btn-ready', 'btn-notready', 'notready-reason'].every((id) => document.getElementById(id).disabled)`)),
		"就绪 or 未就绪 can be pressed")
	require.Contains(t, browserRun(t, b, "pending", chromedp.Text(chromedp.ID("state-pending"))), "登录到期")
	b.statusBarOneLine(t)
	b.screenshot(t, "login-expiring")

	// Past the first check after the token's time (where a login used to end
	// whatever the agent was doing), the call is up and audio flows both ways.
	time.Sleep(time.Until(loggedIn.Add(ttl + 25*time.Second)))
	select {
	case <-call.Ended():
		t.Fatal("the call ended with the login")
	default:
	}
	b.do(t, "still talking", chromedp.WaitVisible(chromedp.CSS(`body[data-phone-state="talking"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="busy"]`)))
	heard := len(call.Rec.Audio())
	for a := call.Rec.Audio(); len(a) < heard+8000 || !siptest.HasTone(a[len(a)-1600:], agentMicHz); a = call.Rec.Audio() {
		select {
		case <-ctx.Done():
			t.Fatalf("after the login's time the caller heard %d more samples, not the agent", len(a)-heard)
		case <-time.After(50 * time.Millisecond):
		}
	}
	s1 := browserRun(t, b, "stats", chromedp.Evaluate[phoneStats](`lianxinPhone.stats()`, chromedp.EvalAwaitPromise))
	require.NotNil(t, s1.Inbound)
	waitJS(t, b, "the browser still gets the caller", `const s = await lianxinPhone.stats();
		return s.inbound.packets >= `+itoa(s1.Inbound.Packets+50)+`;`)
	require.True(t, browserRun(t, b, "the caller's tone", chromedp.Poll[bool](
		`Math.abs(lianxinPhone.inboundPeak().hz - 1000) < 60`)), "the page's analyser finds the caller's 1000 Hz")

	b.do(t, "hang up", chromedp.Click(chromedp.CSS(`#phone .hangup`)),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="wrap_up"]`)))
	select {
	case <-call.Ended():
	case <-ctx.Done():
		t.Fatal("the caller got no BYE")
	}
	b.do(t, "wrap up", wrapUp("consultation", "resolved",
		chromedp.WaitVisible(chromedp.ID("login-view")))...)
	require.Contains(t, browserRun(t, b, "why", chromedp.Text(chromedp.ID("login-error"))), "登录已过期")
	require.Equal(t, queue.StateClosed, contactOn(t, n, tn).State)
	b.screenshot(t, "login-expired")
	b.noPageErrors(t)
}
