package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// With LIANXIN_LOG=console a warning is one line; only errors carry a
// stack trace.
func TestConsoleLogWarnHasNoStack(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger("console", zap.WrapCore(func(zapcore.Core) zapcore.Core {
		return zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(&buf), zap.DebugLevel)
	}))
	require.NoError(t, err)
	log.Warn("redis slow")
	require.Equal(t, 1, strings.Count(buf.String(), "\n"), "one line: %s", buf.String())
	buf.Reset()
	log.Error("handler failed")
	require.Contains(t, buf.String(), "TestConsoleLogWarnHasNoStack", "an error keeps its stack trace")
}

func TestDeskURL(t *testing.T) {
	for addr, want := range map[string]string{
		"0.0.0.0:8080":    "http://localhost:8080/desk/",
		"[::]:8080":       "http://localhost:8080/desk/",
		"127.0.0.1:18080": "http://127.0.0.1:18080/desk/",
		"10.0.0.5:80":     "http://10.0.0.5:80/desk/",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		require.NoError(t, err)
		require.Equal(t, want, deskURL(a), addr)
	}
}

// /metrics is served on its own listener (metrics.addr), not on the public
// one.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	n := startNode(t, s.URL, "node-a")
	resp, err := http.Get(n.base + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "not on the public listener")
	resp, err = http.Get(n.metrics + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), "lianxin_queue_waiting")
	require.Contains(t, string(body), "lianxin_feed_delay_seconds_count")
	require.Contains(t, string(body), `go_sched_latencies_seconds_bucket{le="0.001"}`)
	// The node's heartbeat and sweep are scripts: they are timed from the
	// start.
	for !strings.Contains(string(body), `lianxin_redis_script_seconds_count{script="sweep"}`) {
		time.Sleep(50 * time.Millisecond)
		resp, err := http.Get(n.metrics + "/metrics")
		require.NoError(t, err)
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
	}
}

// A node whose SMTP port is taken does not start: serve returns an error
// naming smtp.addr before it serves anything (the listener opens with the
// others, not once the node runs).
func TestSMTPPortTakenStopsTheStart(t *testing.T) {
	t.Parallel()
	s := queuetest.Miniredis(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	env := map[string]string{"LIANXIN_REDIS_URL": s.URL, "LIANXIN_NODE_ID": "node-a", "LIANXIN_HTTP_ADDR": "127.0.0.1:0",
		"LIANXIN_SIP_ADDR": "127.0.0.1:0", "LIANXIN_METRICS_ADDR": "127.0.0.1:0", "LIANXIN_SMTP_ADDR": taken.Addr().String(),
		"LIANXIN_LOG": "console"}
	// Already ended: were the listeners to open, the node would drain at
	// once and serve would return nil.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = serve(ctx, "", func(k string) string { return env[k] }, io.Discard)
	require.ErrorContains(t, err, "smtp.addr")
	require.ErrorContains(t, err, "address already in use")
}
