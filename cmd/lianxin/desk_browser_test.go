package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// chromiumPath is Debian's Chromium; `make test` (scripts/install-test-deps.sh)
// installs it.
const chromiumPath = "/usr/bin/chromium"

// browserWait bounds every single step in the browser. It is generous: the
// test machines have two cores and run the race detector.
const browserWait = 60 * time.Second

// xssImg and xssScript must reach the agent's screen as text, never as markup.
const (
	xssImg    = `<img src=x onerror="document.title='pwned'">`
	xssScript = `<script>window.pwned=1</script>`
)

// An agent logs in to the real desk page in headless Chromium, goes ready,
// accepts a letter whose subject and text carry HTML, reads it (as text) and
// wraps it up; the public lookup then shows the letter closed.
func TestDeskInBrowser(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	// The offer must not expire while a slow machine drives the browser.
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) { c.Queue.OfferTimeout = 5 * time.Minute })
	box := mailboxFor(t, "general")

	b := startBrowser(t)
	defer b.close(t) // before startNode's cleanup: the desk's socket goes first

	// 1. Log in.
	b.login(t, n.base, "1001")

	// 2. Connected, then ready.
	b.goReady(t)

	// 3. A citizen writes, with HTML in the subject and the text.
	subject := "路灯不亮 " + xssImg + xssScript
	text := "小区门口的路灯坏了一个月，晚上很黑。\n老人和孩子出门不安全 " + xssImg + " " + xssScript + " & <b>请尽快修理</b>"
	r := postJSON(t, n.base+"/channels/mailbox/"+box+"/letters", map[string]string{
		"name": "王建国", "phone": "138 0013 8000", "subject": subject, "text": text})
	require.Equal(t, http.StatusAccepted, r.Status, "%v", r.Body)
	tn, _ := r.Body["tracking_no"].(string)
	require.NotEmpty(t, tn)

	// 4. The offer shows it as text; accept it.
	offer := `#offers [data-offer="` + tn + `"]`
	b.do(t, "wait for the offer", chromedp.WaitVisible(chromedp.CSS(offer)))
	require.Equal(t, subject, browserRun(t, b, "offer subject", chromedp.TextContent(chromedp.CSS(offer+" .offer-subject"))))
	require.Equal(t, text, browserRun(t, b, "offer text", chromedp.TextContent(chromedp.CSS(offer+" .offer-text"))))
	b.noMarkup(t)
	// A desk tab among others tells of the offer: its title and its icon.
	const tab = `document.title + ' ' + new URL(document.getElementById('favicon').href).pathname`
	require.Equal(t, "（新来件）连心 · 坐席工作台 /desk/icon-offer.svg", browserRun(t, b, "the tab", chromedp.Evaluate[string](tab)))
	b.do(t, "accept the offer", chromedp.Click(chromedp.CSS(offer+" button.accept")))

	// 5. The contact is assigned and on screen, as text.
	b.do(t, "wait for the contact",
		chromedp.WaitVisible(chromedp.CSS(`#contacts [data-contact="`+tn+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail[data-contact="`+tn+`"] #detail-text`)),
		chromedp.WaitNotPresent(chromedp.CSS(offer)),
	)
	require.Equal(t, text, browserRun(t, b, "detail text", chromedp.TextContent(chromedp.ID("detail-text"))))
	// What the agent sees (innerText) is the letter too: the newline is kept.
	require.Equal(t, text, browserRun(t, b, "detail text as rendered", chromedp.Text(chromedp.ID("detail-text"))))
	require.Equal(t, subject, browserRun(t, b, "detail subject", chromedp.TextContent(chromedp.ID("detail-subject"))))
	require.Equal(t, tn, browserRun(t, b, "detail tracking no", chromedp.TextContent(chromedp.ID("detail-tracking"))))
	require.Equal(t, "连心 · 坐席工作台 /desk/icon.svg", browserRun(t, b, "the tab", chromedp.Evaluate[string](tab)))
	b.noMarkup(t)
	b.screenshot(t, "detail")

	// 6. Wrap up, as an agent would: pick from the lists, type a note.
	note := "已转区城管局 note"
	b.do(t, "fill in the wrap-up",
		chromedp.SetValue(chromedp.ID("wrapup-type"), "complaint"),
		chromedp.SetValue(chromedp.ID("wrapup-outcome"), "dispatched"),
		// SetValue fires no event; a person choosing from a list does.
		chromedp.Evaluate[chromedp.Void](`for (const id of ['wrapup-type', 'wrapup-outcome'])
			document.getElementById(id).dispatchEvent(new Event('change', {bubbles: true}))`),
		chromedp.SendKeys(chromedp.ID("wrapup-note"), note),
	)
	require.Equal(t, note, browserRun(t, b, "typed note", chromedp.Value(chromedp.ID("wrapup-note"))))
	require.Equal(t, "complaint", browserRun(t, b, "request type", chromedp.Value(chromedp.ID("wrapup-type"))))
	require.Equal(t, "dispatched", browserRun(t, b, "outcome", chromedp.Value(chromedp.ID("wrapup-outcome"))))
	b.do(t, "wrap up", chromedp.Click(chromedp.ID("btn-wrapup")))

	// 7. The contact leaves the desk, and the public lookup shows it closed.
	b.do(t, "wait for the contact to go", chromedp.WaitNotPresent(chromedp.CSS(`#contacts [data-contact="`+tn+`"]`)))
	r = do(t, http.MethodGet, n.base+"/api/contacts/"+tn+"?phone_last4=8000", "", nil)
	require.Equal(t, http.StatusOK, r.Status, "%v", r.Body)
	require.Equal(t, "closed", r.Body["state"])
	require.Equal(t, "dispatched", r.Body["outcome"])
	require.Equal(t, "complaint", r.Body["request_type"])

	b.noMarkup(t)
	b.noPageErrors(t)
}

// deskBrowser is one headless Chromium with one tab.
type deskBrowser struct {
	ctx         context.Context // the tab; the browser lives as long as it
	cancelTab   context.CancelFunc
	cancelAlloc context.CancelFunc
	dataDir     string

	mu       sync.Mutex
	console  []chromedp.ConsoleMessage
	readDone chan struct{}
}

func startBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *deskBrowser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is not installed (%v). The browser tests need it: run the README's test command, "+
			"`make test`, which installs chromium and fonts-noto-cjk (scripts/install-test-deps.sh)", err)
	}
	dir := t.TempDir()
	b := &deskBrowser{dataDir: filepath.Join(dir, "profile"), readDone: make(chan struct{})}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(b.dataDir),
		chromedp.WindowSize(1440, 900),
	}, extra...)...)
	b.cancelAlloc = cancelAlloc
	b.ctx, b.cancelTab = chromedp.NewContext(allocCtx)

	// The first call starts Chromium and binds its life to b.ctx, so it gets
	// no deadline of its own; a watchdog bounds it instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(b.ctx) }()
	select {
	case err := <-started:
		if err != nil {
			b.stop()
			t.Fatalf("starting %s: %v", chromiumPath, err)
		}
	case <-time.After(browserWait):
		b.stop()
		<-started
		t.Fatalf("%s did not start within %s", chromiumPath, browserWait)
	}

	messages := chromedp.Console(b.ctx)
	go func() {
		defer close(b.readDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	return b
}

// do runs actions in the tab, bounded by browserWait.
// login opens the desk page at base and logs agent in with the demo password.
func (b *deskBrowser) login(t *testing.T, base, agent string) {
	t.Helper()
	b.do(t, "open the desk and log in as "+agent,
		chromedp.Navigate(base+"/desk/"),
		chromedp.WaitVisible(chromedp.ID("login-agent")),
		chromedp.SendKeys(chromedp.ID("login-agent"), agent),
		chromedp.SendKeys(chromedp.ID("login-password"), "demo"),
		chromedp.Click(chromedp.ID("login-submit")),
	)
}

// goReady waits for the desk's socket and makes the agent ready.
func (b *deskBrowser) goReady(t *testing.T) {
	t.Helper()
	b.do(t, "go ready",
		chromedp.WaitVisible(chromedp.CSS(`#conn[data-conn="open"]`)),
		chromedp.Click(chromedp.ID("btn-ready")),
		chromedp.WaitVisible(chromedp.CSS(`#state[data-state="ready"]`)),
	)
}

// wrapUp chooses a request type and an outcome in the wrap-up form as a
// person does (SetValue fires no event; a choice from a list does), presses
// 办结 and then does the actions given.
func wrapUp(rtype, outcome string, then ...chromedp.Action[chromedp.Void]) []chromedp.Action[chromedp.Void] {
	return append([]chromedp.Action[chromedp.Void]{
		chromedp.SetValue(chromedp.ID("wrapup-type"), rtype),
		chromedp.SetValue(chromedp.ID("wrapup-outcome"), outcome),
		chromedp.Evaluate[chromedp.Void](`for (const id of ['wrapup-type', 'wrapup-outcome'])
			document.getElementById(id).dispatchEvent(new Event('change', {bubbles: true}))`),
		chromedp.Click(chromedp.ID("btn-wrapup")),
	}, then...)
}

func (b *deskBrowser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, actions...), "browser: %s", what)
}

// browserRun runs one action that returns a value, bounded by browserWait.
func browserRun[T any](t *testing.T, b *deskBrowser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err, "browser: %s", what)
	return v
}

// noMarkup checks that nothing a citizen wrote became an element or ran.
func (b *deskBrowser) noMarkup(t *testing.T) {
	t.Helper()
	n := browserRun(t, b, "count injected elements", chromedp.Evaluate[int](
		`document.querySelectorAll('#detail img:not(.att-preview), #offers img, #contacts img, #detail script, #offers script, #contacts script, #detail b, #offers b').length`))
	require.Zero(t, n, "HTML from the letter became elements on the desk")
	require.True(t, browserRun(t, b, "window.pwned", chromedp.Evaluate[bool](`typeof window.pwned === 'undefined'`)),
		"a script from the letter ran")
	require.NotEqual(t, "pwned", browserRun(t, b, "title", chromedp.Title()), "an event handler from the letter ran")
}

// noPageErrors fails on uncaught exceptions in the page and on anything the
// Content-Security-Policy had to block; it logs the rest of the console.
func (b *deskBrowser) noPageErrors(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		t.Logf("browser console: %s (%s:%d)", m, m.URL, m.Line+1)
		require.False(t, m.IsException(), "uncaught exception in the desk page: %s", m)
		require.NotContains(t, m.Text, "Content Security Policy", "the page broke its own CSP: %s", m)
	}
}

// screenshot saves a full-page PNG in the test's temp dir, and a copy in
// $LIANXIN_SCREENSHOT_DIR when that is set.
func (b *deskBrowser) screenshot(t *testing.T, name string) {
	t.Helper()
	png := browserRun(t, b, "screenshot", chromedp.FullScreenshot(100))
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG")), "not a PNG")
	file := t.Name() + "-" + name + ".png"
	p := filepath.Join(t.TempDir(), file)
	require.NoError(t, os.WriteFile(p, png, 0o644))
	t.Logf("screenshot: %s", p)
	if dir := os.Getenv("LIANXIN_SCREENSHOT_DIR"); dir != "" {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		p = filepath.Join(dir, file)
		require.NoError(t, os.WriteFile(p, png, 0o644))
		t.Logf("screenshot copied to %s", p)
	}
}

// stop closes the tab and the browser and waits for chromedp's goroutines.
func (b *deskBrowser) stop() {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	_ = chromedp.Cancel(ctx) // graceful Browser.close; b.ctx is done after it
	cancel()
	b.cancelTab()
	b.cancelAlloc() // waits until the Chromium process has exited
}

// close stops the browser and checks that no Chromium process is left.
func (b *deskBrowser) close(t *testing.T) {
	t.Helper()
	b.stop()
	<-b.readDone
	// Chromium's helpers (zygote, utility processes) exit after the main
	// process; give them a moment, then kill any that stay: they are ours.
	deadline := time.Now().Add(10 * time.Second)
	left := chromiumProcesses(b.dataDir)
	for len(left) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		left = chromiumProcesses(b.dataDir)
	}
	for _, pid := range left {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if len(left) > 0 {
		t.Errorf("Chromium processes %v were still running 10s after the browser closed", left)
	}
}

// chromiumProcesses lists the processes started with --user-data-dir=dir.
func chromiumProcesses(dir string) []int {
	want := []byte("--user-data-dir=" + dir + "\x00")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(append(cmdline, 0), want) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && isZombie(string(stat)) {
			continue // exited; its parent (Chromium or init) reaps it
		}
		pids = append(pids, pid)
	}
	return pids
}

// isZombie reads the state field of /proc/<pid>/stat.
func isZombie(stat string) bool {
	i := strings.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// In the browser: a WeChat citizen writes twice; the second message shows in
// the contact's conversation, and the agent's reply, typed in the reply box,
// goes out through WeChat's API and joins the conversation.
func TestDeskConversationInBrowser(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	api := &fakeWeChatAPI{}
	apiSrv := httptest.NewServer(api)
	defer apiSrv.Close()
	n := startNode(t, s.URL, "node-a", wechatAccount(apiSrv.URL),
		func(c *configs.Config) { c.Queue.OfferTimeout = 5 * time.Minute })

	b := startBrowser(t)
	defer b.close(t)
	b.login(t, n.base, "1001")
	b.goReady(t)
	code, _ := postWeChat(t, n.base, "请问居住证怎么办理？", "9000000000000001")
	require.Equal(t, http.StatusOK, code)
	b.do(t, "accept the WeChat message",
		chromedp.WaitVisible(chromedp.CSS(`#offers [data-offer] button.accept`)),
		chromedp.Click(chromedp.CSS(`#offers [data-offer] button.accept`)),
		chromedp.WaitVisible(chromedp.ID("reply-form")),
	)
	code, _ = postWeChat(t, n.base, "我的户口在<b>外地</b>", "9000000000000002")
	require.Equal(t, http.StatusOK, code)
	b.do(t, "the second message joins the conversation",
		chromedp.WaitVisible(chromedp.CSS(`#detail-conversation li.from-citizen`)))
	require.Contains(t, browserRun(t, b, "conversation", chromedp.TextContent(chromedp.ID("detail-conversation"))),
		"我的户口在<b>外地</b>")

	b.do(t, "reply",
		chromedp.SendKeys(chromedp.ID("reply-text"), "请携带身份证和居住证明到街道办理。"),
		chromedp.Click(chromedp.ID("btn-reply")),
		chromedp.WaitVisible(chromedp.CSS(`#detail-conversation li.from-agent`)),
	)
	require.Contains(t, browserRun(t, b, "agent's reply", chromedp.TextContent(chromedp.CSS(`#detail-conversation li.from-agent`))),
		"请携带身份证和居住证明到街道办理。")
	api.mu.Lock()
	require.Len(t, api.sent, 1)
	require.Equal(t, "oCitizen42", api.sent[0]["touser"])
	api.mu.Unlock()
	b.noMarkup(t)
	b.screenshot(t, "conversation")
	b.noPageErrors(t)
}

// A supervisor's desk shows every queue's waiting count.
func TestSupervisorSeesQueuesInBrowser(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a")
	letter(t, n.base, mailboxFor(t, "general"), "等待中的来信")
	b := startBrowser(t)
	defer b.close(t)
	b.login(t, n.base, "1005")
	b.do(t, "see the queues",
		chromedp.WaitVisible(chromedp.ID("queues-box")),
		chromedp.WaitVisible(chromedp.CSS(`#queues tr[data-queue="general"]`)),
	)
	row := browserRun(t, b, "general's row", chromedp.TextContent(chromedp.CSS(`#queues tr[data-queue="general"] td:nth-child(2)`)))
	require.Equal(t, "1", row, "one letter waits in general")
	b.noPageErrors(t)
}
