package main

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lianxin/lianxin/channels/rating"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// A letter's citizen opens the rating link in a real browser (1366×768),
// sees the Chinese page (its CSP broken by nothing), picks 基本满意 and
// gets thanks; the contact is rated. Screenshots of both pages are kept.
func TestRatingPageInBrowser(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a")
	tn := letter(t, n.base, mailboxFor(t, "general"), "小区路灯不亮")
	tok := rating.NewToken()
	_, err := n.n.q.AskRating(context.Background(), tn, queue.RatingAsk{Window: time.Hour, Token: tok})
	require.NoError(t, err)

	b := startBrowser(t)
	defer b.stop()
	b.do(t, "open the rating link",
		chromedp.EmulateViewport(1366, 768),
		chromedp.Navigate(n.base+"/rate/"+tok),
		chromedp.WaitVisible(`button[value="2"]`),
	)
	require.Equal(t, "请对本次服务进行评价", browserRun(t, b, "title", chromedp.Title()))
	b.screenshot(t, "question")
	b.do(t, "pick 基本满意", chromedp.Click(`button[value="2"]`), chromedp.WaitVisible(`//h1[text()="感谢您的评价"]`))
	b.screenshot(t, "thanks")
	b.noPageErrors(t)
	c, err := n.n.q.Contact(context.Background(), tn)
	require.NoError(t, err)
	require.NotNil(t, c.Rating)
	require.Equal(t, "基本满意", c.Rating.Label)
}
