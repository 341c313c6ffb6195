package main

import (
	"net/smtp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// An e-mail whose sender nothing vouches for reaches the desk page with the
// sender check marked on it, as text: the agent sees why the citizen got no
// acknowledgement.
func TestEmailSenderCheckInBrowser(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) {
		c.Queue.OfferTimeout = 5 * time.Minute
	})
	addr := n.smtp
	b := startBrowser(t)
	defer b.close(t)
	b.login(t, n.base, "1001")
	b.goReady(t)
	c, err := smtp.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	msg := "From: =?UTF-8?B?5biC5rCR?= <mayor@example.cn>\r\nSubject: " + xssImg + "\r\nMessage-ID: <browser-auth@example.cn>\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n路灯坏了\r\n"
	require.NoError(t, c.Mail("mayor@example.cn"))
	require.NoError(t, c.Rcpt("cd-city-0002@mail.12345.chengdu.gov.cn"))
	w, err := c.Data()
	require.NoError(t, err)
	_, err = w.Write([]byte(msg))
	require.NoError(t, err)
	require.NoError(t, w.Close())

	b.do(t, "accept the letter",
		chromedp.WaitVisible(chromedp.CSS(`#offers [data-offer] button.accept`)),
		chromedp.Click(chromedp.CSS(`#offers [data-offer] button.accept`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail-meta .meta-row.warn`)),
	)
	shown := browserRun(t, b, "sender check", chromedp.TextContent(chromedp.CSS(`#detail-meta .meta-row.warn`)))
	require.Contains(t, shown, "发件人验证")
	require.Contains(t, shown, "发件人未通过验证")
	require.Contains(t, shown, "DMARC")
	require.Contains(t, shown, "example.cn")
	require.Contains(t, shown, "未发送受理回执")
	b.noMarkup(t)
	b.screenshot(t, "sender-check")
	b.noPageErrors(t)
}
