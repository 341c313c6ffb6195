package main

import (
	"context"
	"net/http"
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
// number: nothing was acknowledged that a failover could lose.
func TestAcknowledgedOnlyOnTheReplica(t *testing.T) {
	primary := queuetest.RedisServer(t)
	replica := queuetest.Replica(t, primary)
	n := startNode(t, primary.URL, "node-a", func(c *configs.Config) {
		c.Redis.WaitReplicas = 1
		c.Redis.WaitTimeout = 300 * time.Millisecond
	})
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
	time.Sleep(200 * time.Millisecond)
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
	// The node itself stays ready: the primary answers; only acknowledgements wait.
	resp, err := http.Get(n.base + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
