package main

import (
	"context"
	"net/http/httptest"
	"net/smtp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/sms"
	"github.com/lianxin/lianxin/channels/sms/smscloudtest"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestRedisPausedDuringIntake: the real redis-server pauses for 5 s (DEBUG
// SLEEP, longer than the nodes' 3 s read timeout, so go-redis sends the
// scripts again) while an emergency comes in on every text channel at once:
// a web letter (with the Idempotency-Key the form sends), an SMS pushed by
// Aliyun, a WeChat message, an e-mail. A sender told to try again (503,
// 451) does, and each provider then sends its message once more, as they
// do when an answer was slow (WeChat after 5 s, Aliyun when unsure, a mail
// server that lost the connection). Afterwards: one contact per message,
// one alert per contact (raised by the intake script itself), and neither
// node declared dead (issue 7). That a retried script without any key
// makes one contact is queue's TestTimedOutEnqueueRunsOnce.
func TestRedisPausedDuringIntake(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	api := httptest.NewServer(&fakeWeChatAPI{})
	defer api.Close()
	aliyun := smscloudtest.StartAliyun(t, "LTAI-p", "aliyun-p-secret")
	a := startNode(t, s.URL, "node-a", wechatAccount(api.URL), func(c *configs.Config) {
		c.SMS.Aliyun.Enabled = true
		c.SMS.Aliyun.Send = sms.Sender{Enabled: true, Endpoint: aliyun.URL(), SignName: "连心热线",
			KeyID: "LTAI-p", KeySecret: "aliyun-p-secret",
			Ack:   sms.Template{ID: "SMS_1", Params: []sms.Param{{Name: "code", Value: "tracking_no"}}},
			Reply: sms.Template{ID: "SMS_3", Params: []sms.Param{{Name: "content", Value: "text"}}}, MaxParamRunes: 70}
	})
	startNode(t, s.URL, "node-b")
	smtpAddr := a.smtp
	box := mailboxFor(t, "general")

	webLetter := func() string {
		r := postJSON(t, a.base+"/channels/mailbox/"+box+"/letters", map[string]string{
			"phone": "13800138001", "text": "楼道里燃气泄漏了，味道很大，请马上派人"}, "Idempotency-Key", "pause-letter-1")
		return strconv.Itoa(r.Status)
	}
	smsPush := func() string {
		r := postJSON(t, a.base+"/channels/sms/aliyun", []map[string]any{{"phone_number": "13800138002",
			"send_time": "2026-11-30 10:00:00", "content": "家里着火了，快来人", "sequence_id": 77}})
		return strconv.Itoa(r.Status)
	}
	wechatPush := func() string {
		code, _ := postWeChat(t, a.base, "我家老人晕倒了，呼吸困难", "7700000000000001")
		return strconv.Itoa(code)
	}
	mail := func() string {
		msg := "From: <wang@example.cn>\r\nTo: cd-city-0002@mail.12345.chengdu.gov.cn\r\nSubject: =?UTF-8?B?" +
			"5pyJ5Lq65ZyoMTLmpbzlpKnlj7DopoHot7PmpbwK?=\r\nMessage-ID: <pause-1@example.cn>\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\n\r\n有人在楼顶要跳楼，请马上报警\r\n"
		c, err := smtp.Dial(smtpAddr)
		if err != nil {
			return err.Error()
		}
		defer c.Close()
		if err := c.Mail("wang@example.cn"); err != nil {
			return err.Error()
		}
		if err := c.Rcpt("cd-city-0002@mail.12345.chengdu.gov.cn"); err != nil {
			return err.Error()
		}
		w, err := c.Data()
		if err != nil {
			return err.Error()
		}
		_, _ = w.Write([]byte(msg))
		if err := w.Close(); err != nil {
			return err.Error()
		}
		return "250"
	}

	admin := redis.NewClient(&redis.Options{Addr: s.Addr, ReadTimeout: -1})
	defer admin.Close()
	ctx := context.Background()
	slept := make(chan error, 1)
	go func() { slept <- admin.Do(ctx, "DEBUG", "SLEEP", "5").Err() }()
	time.Sleep(300 * time.Millisecond) // the pause has begun
	sends := []struct {
		name string
		send func() string
		want string
	}{{"web letter", webLetter, "202"}, {"sms", smsPush, "200"}, {"wechat", wechatPush, "200"}, {"smtp", mail, "250"}}
	first := make([]string, len(sends))
	var wg sync.WaitGroup
	for i, c := range sends {
		wg.Add(1)
		go func() { defer wg.Done(); first[i] = c.send() }()
	}
	wg.Wait()
	require.NoError(t, <-slept)
	t.Logf("answers during the pause: %v", first)
	for i, c := range sends {
		for try := 0; first[i] != c.want; try++ { // told to try again: the sender does
			require.Less(t, try, 10, "%s: %s", c.name, first[i])
			time.Sleep(200 * time.Millisecond)
			first[i] = c.send()
		}
	}
	// The providers send again (the web letter is not: without a key, a
	// second post is a second letter).
	for _, c := range sends[1:] {
		require.Equal(t, c.want, c.send(), "%s again", c.name)
	}
	time.Sleep(time.Second) // both nodes' sweeps run after the pause

	keys, err := admin.Keys(ctx, "{lianxin}:c:*").Result()
	require.NoError(t, err)
	var contacts []string
	for _, k := range keys {
		if tn := strings.TrimPrefix(k, "{lianxin}:c:"); !strings.Contains(tn, ":") {
			contacts = append(contacts, tn)
		}
	}
	require.Len(t, contacts, len(sends), "one contact per message: %v", contacts)
	events, err := admin.XRange(ctx, "{lianxin}:events", "-", "+").Result()
	require.NoError(t, err)
	alerts := map[string]int{}
	for _, ev := range events {
		require.NotEqual(t, "node_lost", ev.Values["type"], "a node was declared dead over the pause: %v", ev.Values)
		if ev.Values["type"] == "alert" {
			alerts[ev.Values["contact"].(string)]++
		}
	}
	for _, tn := range contacts {
		require.Equal(t, 1, alerts[tn], "alerts for %s: %v", tn, alerts)
	}
	t.Logf("%d contacts, alerts %v", len(contacts), alerts)
}
