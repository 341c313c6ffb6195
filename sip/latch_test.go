package sip

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// TestStaleStreamDoesNotTakeTheCall: RTP still sent to the node's ports for
// an earlier call (a far end streaming on after its call ended, a node
// restarted) is there before a new call's media. The caller's and the
// agent's legs latch to it first; their own RTP, from the addresses their
// SDP gave, takes over, and the caller hears the agent (by content). Before,
// the first source kept the latch: the agent's audio went to the stale
// source and the call was hung up for no media.
func TestStaleStreamDoesNotTakeTheCall(t *testing.T) {
	siptest.RequireTools(t, "baresip")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A range of two even ports, both fed by a stale stream from the start.
	probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	base := probe.LocalAddr().(*net.UDPAddr).Port&^1 + 2
	require.NoError(t, probe.Close())
	if base+3 > 65535 {
		base = 41000
	}
	e := newEnv(t, func(c *Config) { c.RTPPorts = PortRange{Min: base, Max: base + 3} })
	for _, port := range []int{base, base + 2} {
		stale := newRTPPeer(t, media.PCMU)
		stale.send(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), 300)
	}
	agentPhone(ctx, t, e, "1001")
	e.seat("1001")

	call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: e.s.Addr().String(), From: "13900139612"})
	require.NoError(t, err)
	ct := contactOf(t, e, "+8613900139612")
	heldBy(t, e, ct.TrackingNo, "1001")
	callerHears(ctx, t, call, siptest.AgentToneHz, "the caller hears the agent")
}
