package main

import (
	"context"
	"net/http"
	"net/smtp"
	"net/textproto"
	"testing"
	"time"

	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestAcknowledgedOnlyOnTheReplica: a node with redis.wait_replicas 1
// answers a letter 202 only when the replica has it. With the replica paused
// or killed the letter is answered 503 (send again), and the retry with the
// same Idempotency-Key once the replica is back gets the same tracking
// number: nothing was acknowledged that a failover could lose. A mail with
// the replica gone is answered 451.
func TestAcknowledgedOnlyOnTheReplica(t *testing.T) {
	t.Parallel()
	primary := queuetest.RedisServer(t)
	replica := queuetest.Replica(t, primary)
	n := startNode(t, primary.URL, "node-a", func(c *configs.Config) {
		c.Redis.WaitReplicas = 1
		c.Redis.WaitTimeout = 300 * time.Millisecond
	})
	smtpAddr := n.smtp
	ctx := context.Background()
	rc := replica.Client(t)
	url := n.base + "/channels/mailbox/" + mailboxFor(t, "general") + "/letters"
	post := func(key, subject string) response {
		return postJSON(t, url, map[string]string{"name": "王建国", "phone": "138 0013 8000", "subject": subject,
			"text": "小区门口路灯坏了一个月。"}, "Idempotency-Key", key)
	}
	onReplica := func(tn string) bool {
		k, err := rc.Exists(ctx, "{lianxin}:c:"+tn).Result()
		require.NoError(t, err)
		return k == 1
	}

	r := post("k1", "路灯")
	require.Equal(t, http.StatusAccepted, r.Status, "%v", r.Body)
	require.True(t, onReplica(r.Body["tracking_no"].(string)))

	sleeper := redis.NewClient(&redis.Options{Addr: replica.Addr, ReadTimeout: -1})
	defer sleeper.Close()
	slept := make(chan error, 1)
	go func() { slept <- sleeper.Do(ctx, "DEBUG", "SLEEP", "2").Err() }()
	// The replica is paused once it no longer answers a PING at once (a
	// fixed wait was not always enough on a busy machine: the letter was
	// then acknowledged before the pause began).
	pinger := redis.NewClient(&redis.Options{Addr: replica.Addr, ReadTimeout: 50 * time.Millisecond, MaxRetries: -1})
	defer pinger.Close()
	require.Eventually(t, func() bool { return pinger.Ping(ctx).Err() != nil }, 10*time.Second, 10*time.Millisecond,
		"the replica pauses")
	r = post("k2", "噪音")
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "acknowledged while the replica was paused: %v", r.Body)
	require.NoError(t, <-slept)
	r = post("k2", "噪音")
	require.Equal(t, http.StatusAccepted, r.Status, "%v", r.Body)
	tn := r.Body["tracking_no"].(string)
	require.True(t, onReplica(tn))
	require.Equal(t, tn, post("k2", "噪音").Body["tracking_no"], "the retry made a second contact")

	replica.Kill()
	r = post("k3", "井盖")
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "acknowledged with no replica: %v", r.Body)
	// And a mail: 451, the sending server tries again later.
	c, err := smtp.Dial(smtpAddr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Mail("wang@example.cn"))
	require.NoError(t, c.Rcpt("cd-city-0002@mail.12345.chengdu.gov.cn"))
	w, err := c.Data()
	require.NoError(t, err)
	_, err = w.Write([]byte("From: <wang@example.cn>\r\nTo: cd-city-0002@mail.12345.chengdu.gov.cn\r\n" +
		"Subject: =?UTF-8?B?5LqV55uW?=\r\nMessage-ID: <replica-1@example.cn>\r\n\r\nmanhole\r\n"))
	require.NoError(t, err)
	var perr *textproto.Error
	require.ErrorAs(t, w.Close(), &perr)
	require.Equal(t, 451, perr.Code, "%v", perr)
	// The node itself stays ready: the primary answers; only acknowledgements wait.
	resp, err := http.Get(n.base + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
