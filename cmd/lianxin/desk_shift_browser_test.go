package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// A shift at the desk, on a laptop's 1366×768, for an agent with a long
// name who takes six letters at once: a gas-leak letter arrives with four
// ordinary ones whose subjects and writers' names are long. Every offer
// rings; the gas leak is shown in red with the advice the citizen was given
// and a suggested 转119; the wrap-up cannot be sent until the agent chooses
// the request type and the outcome (the page holds it back, and the server
// refuses one without an outcome, in Chinese on the page); a not-ready asked
// for while holding work shows as pending; the after-call work clock runs;
// the settings turn the ring off, and the next offer rings no more; a photo
// is previewed inline. Screenshots of each step are saved and their paths
// logged.
func TestDeskShiftInBrowser(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) {
		c.Queue.OfferTimeout = 5 * time.Minute
		for i := range c.Agents {
			if c.Agents[i].ID == "1001" {
				c.Agents[i].Name = "欧阳晓梅（夜班组长·综合受理一组）"
				c.Agents[i].Capacity["mailbox"] = 6
			}
		}
	})
	box := mailboxFor(t, "general")
	b := startBrowser(t)
	defer b.close(t)
	b.do(t, "a laptop's screen", chromedp.EmulateViewport(1366, 768))
	b.login(t, n.base, "1001")
	b.goReady(t)

	// 1. The gas leak first, then two letters with long subjects and names.
	gasText := "楼道里燃气泄漏了，味道很大，邻居家没人，请赶快派人来！"
	require.Equal(t, channels.EmergencyGas, channels.Assess(gasText).Emergency, "triage reads a gas leak")
	r := postJSON(t, n.base+"/channels/mailbox/"+box+"/letters", map[string]string{
		"name": "刘女士", "phone": "139 0013 9000", "subject": "燃气泄漏", "text": gasText})
	require.Equal(t, http.StatusAccepted, r.Status, "%v", r.Body)
	gas := r.Body["tracking_no"].(string)
	long := strings.Repeat("小区东门外人行道上的井盖破损松动多日无人维修", 5)
	var others []string
	for i := 0; i < 4; i++ {
		r := postJSON(t, n.base+"/channels/mailbox/"+box+"/letters", map[string]string{
			"name": strings.Repeat("欧阳", 20), "phone": "138 0013 800" + strconv.Itoa(i+1),
			"subject": long, "text": long + long})
		require.Equal(t, http.StatusAccepted, r.Status, "%v", r.Body)
		others = append(others, r.Body["tracking_no"].(string))
	}

	// 2. Five offers, five rings; the gas leak in red with its advice.
	card := `#offers [data-offer="` + gas + `"]`
	b.do(t, "the gas leak's offer", chromedp.WaitVisible(chromedp.CSS(card)))
	for _, tn := range others {
		b.do(t, "an offer", chromedp.WaitVisible(chromedp.CSS(`#offers [data-offer="`+tn+`"]`)))
	}
	require.True(t, browserRun(t, b, "five rings", chromedp.Poll[bool](`document.body.dataset.rings === '5'`)),
		"every offer rings once")
	require.Equal(t, "0", browserRun(t, b, "blocked rings", chromedp.Evaluate[string](`document.body.dataset.ringsBlocked || '0'`)))
	// What the speakers get, by its tones: an ordinary ring is 660 and 880
	// Hz, an emergency's 988 and 1319 Hz.
	ring := b.ringTones(t, false)
	t.Logf("ring tones: %+v", ring)
	require.Greater(t, ring.RMS, 0.05, "the ring is loud enough to hear: %+v", ring)
	for _, off := range []float64{ring.F440, ring.F988, ring.F1319} {
		require.Greater(t, ring.F660, 100*off, "%+v", ring)
		require.Greater(t, ring.F880, 100*off, "%+v", ring)
	}
	urgent := b.ringTones(t, true)
	for _, off := range []float64{urgent.F440, urgent.F660, urgent.F880} {
		require.Greater(t, urgent.F988, 100*off, "%+v", urgent)
		require.Greater(t, urgent.F1319, 100*off, "%+v", urgent)
	}
	require.Equal(t, "gas", browserRun(t, b, "the card's kind", chromedp.AttributeValue(chromedp.CSS(card), "data-emergency")).Value)
	require.Contains(t, browserRun(t, b, "card classes", chromedp.AttributeValue(chromedp.CSS(card), "class")).Value, "emergency")
	cardText := browserRun(t, b, "the card", chromedp.Text(chromedp.CSS(card)))
	require.Contains(t, cardText, "紧急·燃气泄漏")
	require.Contains(t, cardText, "已告知市民："+channels.EmergencyAdvice("gas"))
	require.Contains(t, cardText, "建议：转119")
	require.Contains(t, cardText, "网信", "a web letter is told apart from an e-mail")
	require.Equal(t, "rgb(198, 40, 40)", browserRun(t, b, "the card's border", chromedp.Evaluate[string](
		`getComputedStyle(document.querySelector('`+card+`')).borderTopColor`)), "red")
	b.settled(t)
	b.fits(t)
	b.screenshot(t, "1-offer-emergency")

	// 3. Accept the gas leak by its button, the others with the A key.
	b.do(t, "accept the gas leak", chromedp.Click(chromedp.CSS(card+" button.accept")),
		chromedp.WaitVisible(chromedp.CSS(`#contacts [data-contact="`+gas+`"]`)))
	for _, tn := range others {
		b.do(t, "accept with A", chromedp.KeyEvent("a"),
			chromedp.WaitVisible(chromedp.CSS(`#contacts [data-contact="`+tn+`"]`)))
	}
	b.do(t, "show the gas leak",
		chromedp.Click(chromedp.CSS(`#contacts [data-contact="`+gas+`"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail[data-contact="`+gas+`"] #detail-emergency`)),
	)
	require.Equal(t, "燃气泄漏", browserRun(t, b, "kind", chromedp.Text(chromedp.ID("detail-emergency-kind"))))
	require.Equal(t, channels.EmergencyAdvice("gas"), browserRun(t, b, "advice", chromedp.Text(chromedp.ID("detail-emergency-advice"))))
	require.Equal(t, "转119", browserRun(t, b, "suggested outcome", chromedp.Text(chromedp.ID("detail-emergency-outcome"))))
	require.Equal(t, "rgb(198, 40, 40)", browserRun(t, b, "the box's border", chromedp.Evaluate[string](
		`getComputedStyle(document.getElementById('detail-emergency')).borderTopColor`)))

	// 4. Nothing is chosen for the agent, and nothing can be sent.
	require.Equal(t, "", browserRun(t, b, "request type", chromedp.Value(chromedp.ID("wrapup-type"))))
	require.Equal(t, "", browserRun(t, b, "outcome", chromedp.Value(chromedp.ID("wrapup-outcome"))))
	require.True(t, browserRun(t, b, "wrap-up button", chromedp.Evaluate[bool](`document.getElementById('btn-wrapup').disabled`)))
	require.Equal(t, "请选择诉求类型和处理结果后再办结", browserRun(t, b, "hint", chromedp.Text(chromedp.ID("wrapup-hint"))))
	b.screenshot(t, "2-workspace-emergency")
	// Alt+W goes to the form, and again sends it: refused by the page.
	b.do(t, "Alt+W twice", chromedp.KeyEvent("w", chromedp.KeyModifiers(chromedp.ModifierAlt)),
		chromedp.KeyEvent("w", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	require.Equal(t, "wrapup-type", browserRun(t, b, "focus", chromedp.Evaluate[string](`document.activeElement.id`)))
	// What a page that skipped the check would send: the server refuses it,
	// and the page says so in Chinese.
	b.do(t, "a wrap-up without an outcome",
		chromedp.Evaluate[chromedp.Void](`import('/desk/socket.js').then((m) => m.send({type: 'wrapup', contact: '`+gas+`', request_type: 'help'}))`),
		chromedp.WaitVisible(chromedp.CSS(`#toast .toast-item.error`)),
	)
	require.Contains(t, browserRun(t, b, "error toast", chromedp.Text(chromedp.ID("toast"))), "请选择处理结果")
	c := contactOn(t, n, gas)
	require.Equal(t, queue.StateAssigned, c.State, "nothing changed")
	require.Empty(t, c.Outcome)

	// 5. Not ready while holding work: pending until the work is done.
	b.do(t, "ask for a break",
		chromedp.SetValue(chromedp.ID("notready-reason"), "break"),
		chromedp.Click(chromedp.ID("btn-notready")),
		chromedp.WaitVisible(chromedp.ID("state-pending")),
	)
	require.Equal(t, "busy", browserRun(t, b, "state", chromedp.AttributeValue(chromedp.ID("state"), "data-state")).Value)
	require.Equal(t, "待未就绪·小休", browserRun(t, b, "pending", chromedp.Text(chromedp.ID("state-pending"))))
	b.statusBarOneLine(t)

	// 6. Choose, take the suggested outcome, end: the after-call clock runs.
	b.do(t, "choose the request type and the suggested outcome",
		chromedp.SetValue(chromedp.ID("wrapup-type"), "help"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('wrapup-type').dispatchEvent(new Event('change', {bubbles: true}))`),
		chromedp.Click(chromedp.ID("btn-use-suggested")),
	)
	require.Equal(t, "transferred_119", browserRun(t, b, "outcome", chromedp.Value(chromedp.ID("wrapup-outcome"))))
	require.False(t, browserRun(t, b, "wrap-up button", chromedp.Evaluate[bool](`document.getElementById('btn-wrapup').disabled`)))
	b.do(t, "end with Alt+H", chromedp.KeyEvent("h", chromedp.KeyModifiers(chromedp.ModifierAlt)),
		chromedp.WaitVisible(chromedp.ID("acw")))
	require.True(t, browserRun(t, b, "the clock runs", chromedp.Poll[bool](
		`/^话后 0:0[1-9]$/.test(document.getElementById('acw').textContent)`)))
	b.fits(t)
	b.screenshot(t, "3-wrapup-acw")
	b.do(t, "wrap up", chromedp.Click(chromedp.ID("btn-wrapup")),
		chromedp.WaitNotPresent(chromedp.CSS(`#contacts [data-contact="`+gas+`"]`)))
	r = do(t, http.MethodGet, n.base+"/api/contacts/"+gas+"?phone_last4=9000", "", nil)
	require.Equal(t, http.StatusOK, r.Status, "%v", r.Body)
	require.Equal(t, "transferred_119", r.Body["outcome"])
	require.Equal(t, "help", r.Body["request_type"])

	// 7. The settings: notifications on (the browser allows them, as the
	// agent would when asked), the ring off; kept in localStorage.
	_, err := chromedp.CallBrowser(b.ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "notifications"}, Setting: browser.PermissionSettingGranted,
		Origin: n.base})
	require.NoError(t, err, "allow notifications")
	b.do(t, "open the settings", chromedp.Click(chromedp.ID("btn-settings")), chromedp.WaitVisible(chromedp.ID("settings")))
	require.True(t, browserRun(t, b, "sound on", chromedp.Evaluate[bool](`document.getElementById('set-sound').checked`)))
	require.False(t, browserRun(t, b, "notifications off", chromedp.Evaluate[bool](`document.getElementById('set-notify').checked`)))
	b.do(t, "turn notifications on", chromedp.Click(chromedp.ID("set-notify")))
	require.True(t, browserRun(t, b, "notifications on", chromedp.Poll[bool](
		`document.getElementById('set-notify').checked && JSON.parse(localStorage.getItem('lianxin.desk.settings')).notify === true`)))
	b.screenshot(t, "4-settings")
	b.do(t, "turn the ring off", chromedp.Click(chromedp.ID("set-sound")),
		chromedp.Click(chromedp.CSS(`#settings-form button[type="submit"]`)), chromedp.WaitNotVisible(chromedp.ID("settings")))
	require.Equal(t, `false`, browserRun(t, b, "stored", chromedp.Evaluate[string](
		`String(JSON.parse(localStorage.getItem('lianxin.desk.settings')).sound)`)))

	// 8. Wrap the others up, then a photo comes: no ring now, and the
	// picture shows in the page.
	for _, tn := range others {
		b.do(t, "open "+tn,
			chromedp.Click(chromedp.CSS(`#contacts [data-contact="`+tn+`"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`#detail[data-contact="`+tn+`"]`)))
		b.do(t, "wrap up "+tn, wrapUp("complaint", "dispatched",
			chromedp.WaitNotPresent(chromedp.CSS(`#contacts [data-contact="`+tn+`"]`)))...)
	}
	b.do(t, "ready again", chromedp.Click(chromedp.ID("btn-ready")), chromedp.WaitVisible(chromedp.CSS(`#state[data-state="ready"]`)))
	photo := testPNG(t, 120, 80)
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	require.NoError(t, w.WriteField("text", "路边的垃圾桶倒了，附照片"))
	require.NoError(t, w.WriteField("phone", "138 0013 8000"))
	fw, err := w.CreateFormFile("attachments", "垃圾桶.png")
	require.NoError(t, err)
	_, _ = fw.Write(photo)
	require.NoError(t, w.Close())
	r = do(t, http.MethodPost, n.base+"/channels/mailbox/"+box+"/letters", w.FormDataContentType(), body.Bytes())
	require.Equal(t, http.StatusAccepted, r.Status, "%v", r.Body)
	tn := r.Body["tracking_no"].(string)
	offer := `#offers [data-offer="` + tn + `"]`
	b.do(t, "the photo's offer", chromedp.WaitVisible(chromedp.CSS(offer)))
	require.True(t, browserRun(t, b, "a desktop notification", chromedp.Poll[bool](`document.body.dataset.notifications === '1'`)))
	require.Equal(t, "5", browserRun(t, b, "rings", chromedp.Evaluate[string](`document.body.dataset.rings`)),
		"the ring is off: no ring for this offer")
	b.do(t, "accept it", chromedp.Click(chromedp.CSS(offer+" button.accept")),
		chromedp.WaitVisible(chromedp.CSS(`#detail-attachments img.att-preview`)))
	require.True(t, browserRun(t, b, "the picture is decoded", chromedp.Poll[bool](`(() => {
		const img = document.querySelector('#detail-attachments img.att-preview');
		return img.complete && img.naturalWidth === 120 && img.naturalHeight === 80 && img.src.startsWith('blob:');
	})()`)))
	b.fits(t)
	b.screenshot(t, "5-image-preview")
	b.noMarkup(t)
	b.noPageErrors(t)
}

// contactOn reads a contact from the node's Redis.
func contactOn(t *testing.T, n *testNode, tn string) *queue.Contact {
	t.Helper()
	c, err := n.n.q.Contact(context.Background(), tn)
	require.NoError(t, err)
	return c
}

// testPNG is a w×h picture: red, with a blue band.
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{R: 200, G: 40, B: 40, A: 255}
			if y > h/3 && y < 2*h/3 {
				c = color.RGBA{R: 40, G: 80, B: 200, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// fits fails when anything on the desk spills sideways at this window size:
// the page itself, the status bar (one row), offer cards, the contact list.
func (b *deskBrowser) fits(t *testing.T) {
	t.Helper()
	b.statusBarOneLine(t)
	over := browserRun(t, b, "overflow", chromedp.Evaluate[[]string](`(() => {
		const out = [];
		const root = document.documentElement;
		if (root.scrollWidth > root.clientWidth) out.push('page ' + root.scrollWidth + '>' + root.clientWidth);
		for (const sel of ['.offer-card', '.contact-btn', '.sidebar', '.letter', '.wrapup', '.meta', '.emergency-box']) {
			for (const e of document.querySelectorAll(sel)) {
				if (e.offsetParent === null) continue;
				if (e.scrollWidth > e.clientWidth + 1) out.push(sel + ' ' + e.scrollWidth + '>' + e.clientWidth);
			}
		}
		return out;
	})()`))
	require.Empty(t, over, "something spills sideways at this size")
}

// ringTones renders the desk's ring offline in the page (ring.js) and
// measures it: the power at a few frequencies (Goertzel) and its RMS.
type ringTones struct {
	F440, F660, F880, F988, F1319, RMS float64
}

func (b *deskBrowser) ringTones(t *testing.T, emergency bool) ringTones {
	t.Helper()
	js := `import('/desk/ring.js').then(async (m) => {
		const s = await m.renderRing(` + strconv.FormatBool(emergency) + `, 8000);
		const power = (f) => {
			const k = 2 * Math.cos(2 * Math.PI * f / 8000);
			let s1 = 0, s2 = 0;
			for (const x of s) { const s0 = x + k * s1 - s2; s2 = s1; s1 = s0; }
			return (s1 * s1 + s2 * s2 - k * s1 * s2) / (s.length * s.length);
		};
		let e = 0;
		for (const x of s) e += x * x;
		return {F440: power(440), F660: power(660), F880: power(880), F988: power(988), F1319: power(1319),
			RMS: Math.sqrt(e / s.length)};
	})`
	return browserRun(t, b, "the ring's tones", chromedp.Evaluate[ringTones](js, chromedp.EvalAwaitPromise))
}

// Three letters offered at once and left to expire are one miss, told in
// one toast: with max_misses 1 the agent is set not ready (漏接过多) with one
// miss, not three.
func TestOffersExpiringTogetherInBrowser(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) {
		c.Queue.OfferTimeout = 3 * time.Second
		c.Queue.MaxMisses = 1
	})
	box := mailboxFor(t, "general")
	var tns []string
	for i := 0; i < 3; i++ {
		tns = append(tns, letter(t, n.base, box, "路灯不亮 "+strconv.Itoa(i+1)))
	}
	b := startBrowser(t)
	defer b.close(t)
	b.do(t, "a laptop's screen", chromedp.EmulateViewport(1366, 768))
	b.login(t, n.base, "1001")
	b.do(t, "go ready: three offers at once",
		chromedp.WaitVisible(chromedp.CSS(`#conn[data-conn="open"]`)),
		chromedp.Click(chromedp.ID("btn-ready")),
		chromedp.WaitVisible(chromedp.CSS(`#offers [data-offer="`+tns[0]+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#offers [data-offer="`+tns[1]+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#offers [data-offer="`+tns[2]+`"]`)),
	)
	b.do(t, "they expire",
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="not_ready"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#offers [data-offer]`)),
		chromedp.WaitVisible(chromedp.CSS(`#toast .toast-item.warn`)),
	)
	require.Equal(t, "漏接过多", browserRun(t, b, "reason", chromedp.Text(chromedp.ID("state-reason"))))
	require.Equal(t, "漏接 1", browserRun(t, b, "misses", chromedp.Text(chromedp.ID("state-misses"))))
	require.Equal(t, "3 件来件已撤回：超时未接", browserRun(t, b, "one toast", chromedp.Text(chromedp.CSS(`#toast .toast-item.warn`))))
	require.Equal(t, 1, browserRun(t, b, "toasts", chromedp.Evaluate[int](`document.querySelectorAll('#toast .toast-item.warn').length`)))
	for _, tn := range tns {
		require.Equal(t, queue.StateWaiting, contactOn(t, n, tn).State, "back in the queue")
	}
	require.Contains(t, browserRun(t, b, "banner", chromedp.Text(chromedp.ID("banner-text"))), "连续漏接来件")
	b.statusBarOneLine(t)
	b.screenshot(t, "missed")
	b.do(t, "ready from the banner", chromedp.Click(chromedp.ID("banner-action")),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="offered"]`)), chromedp.WaitNotVisible(chromedp.ID("banner")))
	b.noPageErrors(t)
}

// A login renewed from the page goes on without leaving the desk. The strip
// under the status bar offers it from auth.renew_warning before the end (60
// s of this 90-s login: not at first, then), and says more once the login
// winds down (the agent holds a letter with a draft note), each time with a
// desktop notification (the agent has them on); a wrong password is told in
// the strip; the right one renews: the strip goes (the new login has 90 s
// left), 就绪 and 未就绪 come back and the agent is ready again as before
// the wind-down. After the desk's next look at its login (which would have
// wound the old one down again) the desk, the letter and its draft are
// there, a reload comes back to the desk on the new token with the letter on
// screen and its draft note, the strip comes back 60 s before the new
// login's end, and the letter is wrapped up (its draft is gone then).
func TestBrowserRenewsTheLogin(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	const ttl, warning = 90 * time.Second, 60 * time.Second
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) { c.Auth.TokenTTL, c.Auth.RenewWarning = ttl, warning })
	loggedIn := time.Now()
	b := startBrowser(t)
	defer b.close(t)
	b.do(t, "a laptop's screen", chromedp.EmulateViewport(1366, 768))
	// Desktop notifications on (设置), as the agent would have them.
	_, err := chromedp.CallBrowser(b.ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "notifications"}, Setting: browser.PermissionSettingGranted,
		Origin: n.base})
	require.NoError(t, err, "allow notifications")
	b.do(t, "notifications on", chromedp.Navigate(n.base+"/desk/"), chromedp.Evaluate[chromedp.Void](
		`localStorage.setItem('lianxin.desk.settings', JSON.stringify({sound: false, volume: 60, notify: true}))`))
	login := time.Now()
	b.login(t, n.base, "1001")
	b.goReady(t)
	hidden := browserRun(t, b, "strip", chromedp.Evaluate[bool](`document.getElementById('renew').hidden`))
	if early := time.Since(login) < ttl-warning-5*time.Second; early { // else the page was too slow to tell
		require.True(t, hidden, "no strip while more than auth.renew_warning is left")
	}
	b.do(t, "the strip offers to renew", chromedp.WaitVisible(chromedp.CSS(`#renew[data-kind="soon"]`)))
	require.GreaterOrEqual(t, time.Since(login), ttl-warning-time.Second, "the strip came at auth.renew_warning before the end")
	require.Contains(t, browserRun(t, b, "strip", chromedp.Text(chromedp.ID("renew-text"))), "到期")
	const notices = `document.body.dataset.notifications || '0'`
	require.Equal(t, "1", browserRun(t, b, "a desktop notification", chromedp.Evaluate[string](notices)))
	oldTok := browserRun(t, b, "token", chromedp.Evaluate[string](`sessionStorage.getItem('lianxin.token')`))

	tn := letter(t, n.base, mailboxFor(t, "general"), "路灯不亮")
	const draft = "已联系街道，明天派人修理"
	b.do(t, "accept the letter and start a note",
		chromedp.WaitVisible(chromedp.CSS(`#offers [data-offer="`+tn+`"] .accept`)),
		chromedp.Click(chromedp.CSS(`#offers [data-offer="`+tn+`"] .accept`)),
		chromedp.WaitVisible(chromedp.CSS(`#contacts [data-contact="`+tn+`"]`)),
		chromedp.WaitVisible(chromedp.ID("wrapup-note")),
		chromedp.SendKeys(chromedp.ID("wrapup-note"), draft))

	offered, err := strconv.Atoi(browserRun(t, b, "notifications", chromedp.Evaluate[string](notices))) // and the offer's
	require.NoError(t, err)
	// The desk looks every 20 s: the wind-down starts with 40 s or less left.
	time.Sleep(time.Until(loggedIn.Add(ttl - 60*time.Second)))
	b.do(t, "the login winds down", chromedp.WaitVisible(chromedp.CSS(`#renew[data-kind="ending"]`)))
	require.Contains(t, browserRun(t, b, "strip", chromedp.Text(chromedp.ID("renew-text"))), "登录已到期")
	require.Equal(t, strconv.Itoa(offered+1), browserRun(t, b, "another desktop notification", chromedp.Evaluate[string](notices)))
	require.True(t, browserRun(t, b, "presence disabled", chromedp.Evaluate[bool](
		`['btn-ready', 'btn-notready', 'notready-reason'].every((id) => document.getElementById(id).disabled)`)))
	b.do(t, "a wrong password", chromedp.SendKeys(chromedp.ID("renew-password"), "wrong"),
		chromedp.Click(chromedp.ID("renew-submit")), chromedp.WaitVisible(chromedp.ID("renew-error")))
	require.Equal(t, "密码错误，请重新输入", browserRun(t, b, "error", chromedp.Text(chromedp.ID("renew-error"))))
	b.statusBarOneLine(t)
	b.screenshot(t, "ending")

	require.Empty(t, browserRun(t, b, "the field", chromedp.Value(chromedp.ID("renew-password"))), "the wrong one is cleared")
	renewing := time.Now() // the new login is made after this
	b.do(t, "the right one", chromedp.SendKeys(chromedp.ID("renew-password"), "demo"), chromedp.Click(chromedp.ID("renew-submit")),
		// (The new login has more than auth.renew_warning left.)
		chromedp.WaitNotVisible(chromedp.ID("renew")),
		chromedp.WaitEnabled(chromedp.ID("btn-notready")))
	require.Contains(t, browserRun(t, b, "toast", chromedp.Text(chromedp.CSS(`#toast .toast-item`))), "登录已续期")
	st, err := n.n.q.Status(context.Background(), "1001")
	require.NoError(t, err)
	require.Equal(t, queue.PresenceReady, st.Presence, "ready again, as before the wind-down")
	newTok := browserRun(t, b, "token", chromedp.Evaluate[string](`sessionStorage.getItem('lianxin.token')`))
	require.NotEqual(t, oldTok, newTok)
	b.screenshot(t, "renewed")
	renewed := time.Now()

	// The desk's next look (within 20 s) is at the new login: at the old
	// one, kept alive a minute at a time while it wound down, it would
	// have wound it down again.
	time.Sleep(time.Until(renewed.Add(25 * time.Second)))
	b.do(t, "still at the desk", chromedp.WaitVisible(chromedp.CSS(`#conn[data-conn="open"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="busy"]`)),
		chromedp.WaitEnabled(chromedp.ID("btn-notready")))
	require.Equal(t, draft, browserRun(t, b, "draft", chromedp.Value(chromedp.ID("wrapup-note"))))
	b.do(t, "a reload comes back to the desk", chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`#conn[data-conn="open"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#renew[data-kind="soon"]`)), // 60 s before the new login's end
		chromedp.Click(chromedp.CSS(`#contacts [data-contact="`+tn+`"]`)))
	require.GreaterOrEqual(t, time.Since(renewing), ttl-warning-time.Second, "the strip came back for the new login")
	require.Equal(t, draft, browserRun(t, b, "draft after the reload", chromedp.Value(chromedp.ID("wrapup-note"))),
		"a reload keeps the half-written note")
	b.screenshot(t, "soon-again")
	b.do(t, "wrap the letter up", wrapUp("complaint", "resolved",
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="ready"]`)))...)
	require.Equal(t, queue.StateClosed, contactOn(t, n, tn).State)
	require.True(t, browserRun(t, b, "drafts kept", chromedp.Poll[bool](`sessionStorage.getItem('lianxin.drafts') === null`)),
		"the draft went with its contact")
	b.noPageErrors(t)
}

// At a shift change a node checks only so many passwords a second
// (auth.login_hashes_per_second) and answers the rest 503 login_busy with
// Retry-After. The login page does not leave the agent with an HTTP error
// to retry by hand: it says it is waiting its turn, asks again after
// Retry-After, and reaches the desk once the node has room.
func TestBrowserLoginWaitsForABusyNode(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	// One password every 10 s: another agent's login takes the only one.
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) { c.Auth.LoginHashesPerSecond = 0.1 })
	r := postJSON(t, n.base+"/api/login", map[string]string{"agent": "1002", "password": "demo"})
	require.Equal(t, http.StatusOK, r.Status, "%v", r.Body)
	r = postJSON(t, n.base+"/api/login", map[string]string{"agent": "1003", "password": "demo"})
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "%v", r.Body)
	require.Equal(t, "login_busy", r.Body["error"])

	b := startBrowser(t)
	defer b.close(t)
	b.do(t, "a laptop's screen", chromedp.EmulateViewport(1366, 768))
	b.login(t, n.base, "1001")
	b.do(t, "the page says it waits", chromedp.WaitVisible(chromedp.CSS(`#login-error[data-kind="wait"]`)))
	require.Contains(t, browserRun(t, b, "message", chromedp.Text(chromedp.ID("login-error"))), "正在排队")
	b.screenshot(t, "waiting")
	b.do(t, "and reaches the desk", chromedp.WaitVisible(chromedp.CSS(`#conn[data-conn="open"]`)))
	waits, err := strconv.Atoi(browserRun(t, b, "waits", chromedp.Evaluate[string](`document.body.dataset.loginWaits || '0'`)))
	require.NoError(t, err)
	require.Positive(t, waits, "the page asked again after 503 login_busy")
	require.True(t, browserRun(t, b, "login view", chromedp.Evaluate[bool](`document.getElementById('login-view').hidden`)))
	b.noPageErrors(t)
}
