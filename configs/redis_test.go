package configs

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Redis through Sentinel, from the environment, and the deployment's file.
func TestRedisSentinelConfig(t *testing.T) {
	c, err := Load("", env(map[string]string{"LIANXIN_REDIS_SENTINELS": " 10.0.0.1:26379, 10.0.0.2:26379,,",
		"LIANXIN_REDIS_MASTER_NAME": "lianxin", "LIANXIN_REDIS_PASSWORD": "p", "LIANXIN_REDIS_SENTINEL_PASSWORD": "s"}))
	require.NoError(t, err)
	require.Equal(t, []string{"10.0.0.1:26379", "10.0.0.2:26379"}, c.Redis.Sentinels)
	require.Equal(t, "lianxin", c.Redis.MasterName)
	require.Equal(t, "p", c.Redis.Password)
	require.Equal(t, "s", c.Redis.SentinelPassword)
	require.Zero(t, c.Redis.WaitReplicas, "no WAIT unless configured")
	require.Equal(t, 200*time.Millisecond, c.Redis.WaitTimeout)
	require.Equal(t, 100, c.Redis.PoolSize)

	c, err = Load(filepath.Join("..", "deploy", "lianxin.yaml"), nil)
	require.NoError(t, err)
	require.Len(t, c.Redis.Sentinels, 3)
	require.Equal(t, 1, c.Redis.WaitReplicas)
}

func TestRedisSentinelConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"LIANXIN_REDIS_SENTINELS": "10.0.0.1:26379"}, "redis.master_name: must be set with redis.sentinels"},
		{map[string]string{"LIANXIN_REDIS_MASTER_NAME": "lianxin"}, "redis.master_name: is used only with redis.sentinels"},
		{map[string]string{"LIANXIN_REDIS_SENTINELS": "26379", "LIANXIN_REDIS_MASTER_NAME": "m"}, "redis.sentinels[0]"},
	} {
		_, err := Load("", env(tc.env))
		require.ErrorIs(t, err, ErrInvalid)
		require.ErrorContains(t, err, tc.want)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	for _, tc := range []struct{ file, want string }{
		{"redis:\n  wait_replicas: 1\n", "redis.wait_replicas: needs a real Redis"},
		{"redis:\n  url: redis://r:6379/0\n  wait_replicas: -1\n", "redis.wait_replicas: must be >= 0"},
		{"redis:\n  url: redis://r:6379/0\n  wait_replicas: 1\n  wait_timeout: 0s\n", "redis.wait_timeout: must be > 0"},
		{"redis:\n  url: redis://r:6379/0\n  pool_size: 5\n", "redis.pool_size: must be >= 10"},
		{"redis:\n  url: redis://r:6379/0?pool_size=5\n", "redis.url: pool_size must be >= 10"},
	} {
		require.NoError(t, writeFile(path, tc.file))
		_, err := Load(path, nil)
		require.ErrorContains(t, err, tc.want, tc.file)
	}
}
