package sip

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/require"
)

// invite sends one INVITE to the gateway and returns the final status.
func invite(t *testing.T, u *ua, e *env, number string, body []byte) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: number, Host: "127.0.0.1", Port: int(e.s.Addr().Port())})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.AppendHeader(&sip.ContactHeader{Address: u.dlg.ContactHDR.Address})
	req.SetBody(body)
	res, err := u.cli.Do(ctx, req)
	require.NoError(t, err)
	return res.StatusCode
}

// TestRefusals: each refused INVITE gets its status and leaves nothing.
func TestRefusals(t *testing.T) {
	e := newEnv(t)
	u := newUA(t, "prober")
	offer := sdpOffer(40000, 0)
	for _, tc := range []struct {
		name   string
		number string
		body   []byte
		want   int
	}{
		{"unknown number", "99999", offer, 404},
		{"no common codec", "12345", []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"), 488},
		{"no SDP", "12345", nil, 400},
		{"garbage SDP", "12345", []byte("hello"), 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, invite(t, u, e, tc.number, tc.body))
			require.Zero(t, e.s.Calls())
		})
	}
}

// TestUntrustedFlood: INVITEs from outside the trusted networks get 403 and
// leave no call, no goroutine (goleak in TestMain) and no Redis key.
func TestUntrustedFlood(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Trusted = []string{"10.9.8.0/24"} })
	before := stateKeys(t, e)
	u := newUA(t, "attacker")
	for i := 0; i < 200; i++ {
		require.Equal(t, 403, invite(t, u, e, "12345", sdpOffer(40000+2*i, 0)), "INVITE %d", i)
	}
	require.Zero(t, e.s.Calls())
	require.Equal(t, before, stateKeys(t, e), "no key written for the refused calls")
}

// TestFullNode: beyond max_calls and while draining, 503 with Retry-After.
func TestFullNode(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxCalls = 1; c.RetryAfter = 7 * time.Second })
	c := dial(t, e, "12345", "13800138001", 0)
	defer c.hangup(t)
	u := newUA(t, "second")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "12345", Host: "127.0.0.1", Port: int(e.s.Addr().Port())})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.AppendHeader(&sip.ContactHeader{Address: u.dlg.ContactHDR.Address})
	req.SetBody(sdpOffer(40002, 0))
	res, err := u.cli.Do(ctx, req)
	require.NoError(t, err)
	require.Equal(t, 503, res.StatusCode)
	require.Equal(t, strconv.Itoa(7), res.GetHeader("Retry-After").Value())
}

// TestOptions: keep-alives from proxies are answered.
func TestOptions(t *testing.T) {
	res := optionsOK(t, newEnv(t))
	require.NotNil(t, res.GetHeader("Allow"))
}

// TestHostileBytes: garbage on the SIP port leaves the node answering.
func TestHostileBytes(t *testing.T) {
	e := newEnv(t)
	conn, err := net.Dial("udp", e.s.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	for _, b := range []string{"", "\x00\x01\x02", "INVITE sip:12345@x SIP/2.0\r\n\r\n", "SIP/2.0 200 OK\r\nVia: x\r\n\r\n",
		"INVITE sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\nContent-Length: 99999\r\n\r\nv=0"} {
		_, _ = conn.Write([]byte(b))
	}
	optionsOK(t, e)
}

// optionsOK sends OPTIONS to the node and requires a 200, which it returns.
func optionsOK(t *testing.T, e *env) *sip.Response {
	u := newUA(t, "proxy")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := u.cli.Do(ctx, sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(e.s.Addr().Port())}))
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	return res
}

// stateKeys lists the Redis keys, leaving out the nodes' own bookkeeping
// (heartbeats, liveness, the event stream), which runs on its own clock.
func stateKeys(t *testing.T, e *env) []string {
	t.Helper()
	keys, err := e.redis.Client(t).Keys(context.Background(), "*").Result()
	require.NoError(t, err)
	var out []string
	for _, k := range keys {
		// What the node's own loops write whatever the calls (heartbeat,
		// sweep, the first load of the scripts' library), at moments of
		// their own.
		switch {
		case strings.HasSuffix(k, ":nodes"), strings.HasSuffix(k, ":events"), strings.Contains(k, ":live:"),
			strings.Contains(k, ":esc:spec"), strings.HasSuffix(k, ":esc:mixed"), strings.HasSuffix(k, ":esc:pass"),
			strings.Contains(k, ":sweep:"), strings.HasSuffix(k, ":hd:built"), strings.HasSuffix(k, ":libs"),
			strings.HasSuffix(k, ":libloaded"):
		default:
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
