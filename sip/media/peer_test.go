package media

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// rtpPeer is a plain UDP socket on loopback playing the far end: it records every RTP packet it receives and sends
// packets of its own stream.
type rtpPeer struct {
	conn *net.UDPConn
	got  chan rxPacket

	hdr rtp.Header // the outbound stream
}

type rxPacket struct {
	hdr     rtp.Header
	payload []byte
	at      time.Time
	from    netip.AddrPort
}

func newPeer(t *testing.T) *rtpPeer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	p := &rtpPeer{conn: conn, got: make(chan rxPacket, 100000), hdr: rtp.Header{Version: 2, SSRC: 0x1234, Timestamp: 99, SequenceNumber: 65530}}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			var pk rtp.Packet
			if pk.Unmarshal(append([]byte(nil), buf[:n]...)) == nil {
				from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
				p.got <- rxPacket{hdr: pk.Header, payload: pk.Payload, at: time.Now(), from: from}
			}
		}
	})
	t.Cleanup(func() { _ = conn.Close(); wg.Wait() })
	return p
}

func (p *rtpPeer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// sendAudio sends one 20 ms packet of pcm encoded in c.
func (p *rtpPeer) sendAudio(t *testing.T, to netip.AddrPort, c Codec, pcm []int16) {
	t.Helper()
	payload := make([]byte, len(pcm))
	Encode(payload, pcm, c)
	p.hdr.PayloadType = uint8(c)
	p.send(t, to, payload)
	p.hdr.Timestamp += uint32(len(pcm))
}

// sendPress sends a key press as sipp does (sippPress), at the stream's current timestamp.
func (p *rtpPeer) sendPress(t *testing.T, to netip.AddrPort, pt, code uint8) {
	t.Helper()
	for i, e := range sippPress(code) {
		b := make([]byte, EventSize)
		_, err := e.MarshalTo(b)
		require.NoError(t, err)
		p.hdr.PayloadType, p.hdr.Marker = pt, i == 0
		p.send(t, to, b)
	}
	p.hdr.Marker = false
	p.hdr.Timestamp += 640
}

func (p *rtpPeer) send(t *testing.T, to netip.AddrPort, payload []byte) {
	t.Helper()
	b, err := (&rtp.Packet{Header: p.hdr, Payload: payload}).Marshal()
	require.NoError(t, err)
	_, err = p.conn.WriteToUDPAddrPort(b, to)
	require.NoError(t, err)
	p.hdr.SequenceNumber++
}

func (p *rtpPeer) next() rxPacket { return <-p.got }

// runLeg makes a leg on a fresh loopback socket and runs it until the test ends.
func runLeg(t *testing.T, cfg LegConfig) *Leg {
	t.Helper()
	if cfg.Conn == nil {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		cfg.Conn = conn
	}
	if cfg.Logger == nil {
		cfg.Logger = zaptest.NewLogger(t)
	}
	l := NewLeg(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, l.Close())
	})
	return l
}

// runPacer runs a pacer until the test ends.
func runPacer(t *testing.T, shards int) *Pacer {
	t.Helper()
	p := NewPacer(shards, zaptest.NewLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	return p
}

// stream checks what a receiver gets from one leg: one SSRC, sequence +1 per packet, timestamp +160 per packet
// except at a switch (marker bit), where it advances by a whole number of 20 ms periods about the time elapsed.
type stream struct {
	t     *testing.T
	peer  *rtpPeer
	pacer *Pacer // if set, a pacer that stalled beyond its catch-up may skip frames within a source
	// leg, if set, is where the stream comes from: packets from elsewhere
	// are left out. Other packages' tests run beside these on loopback, and
	// a port the system hands this peer may still get the RTP some test
	// of theirs sent to it before (CI: a second SSRC in mid-stream).
	leg  netip.AddrPort
	last *rxPacket
}

func (s *stream) next() rxPacket {
	s.t.Helper()
	p := s.peer.next()
	for s.leg.IsValid() && p.from != s.leg {
		s.t.Logf("a packet from %s, not from the leg at %s, left out (SSRC %#x)", p.from, s.leg, p.hdr.SSRC)
		p = s.peer.next()
	}
	if s.last != nil {
		prev := s.last
		require.Equal(s.t, prev.hdr.SSRC, p.hdr.SSRC, "one SSRC for the leg's life")
		require.Equal(s.t, prev.hdr.SequenceNumber+1, p.hdr.SequenceNumber, "sequence +1")
		d := p.hdr.Timestamp - prev.hdr.Timestamp
		if p.hdr.PayloadType == prev.hdr.PayloadType && p.hdr.PayloadType < 96 {
			if p.hdr.Marker {
				require.Zero(s.t, d%FrameSamples, "timestamp advances by whole frames at a switch")
				require.Positive(s.t, d, "timestamp advances at a switch")
				periods := int64(p.at.Sub(prev.at) / tick)
				require.LessOrEqual(s.t, int64(d/FrameSamples), periods+10, "timestamp about the time elapsed")
			} else if d != FrameSamples && s.pacer != nil && s.pacer.Stats().LateTicks >= maxCatchUp {
				require.Zero(s.t, d%FrameSamples, "frames skipped by a stalled pacer (%d late ticks)", s.pacer.Stats().LateTicks)
			} else {
				require.Equal(s.t, uint32(FrameSamples), d, "timestamp +160 within a source")
			}
		}
	}
	s.last = &p
	return p
}

// until reads packets up to and including the next one with the marker bit, and returns those before it and it.
func (s *stream) untilMarker() (before []rxPacket, marked rxPacket) {
	s.t.Helper()
	for {
		p := s.next()
		if p.hdr.Marker {
			return before, p
		}
		before = append(before, p)
	}
}

func (s *stream) take(n int, first rxPacket) []rxPacket {
	s.t.Helper()
	out := []rxPacket{first}
	for len(out) < n {
		p := s.next()
		require.False(s.t, p.hdr.Marker, "no switch within a source")
		out = append(out, p)
	}
	return out
}

// decoded joins the packets' audio.
func decoded(ps []rxPacket, c Codec) []int16 {
	var pcm []int16
	for _, p := range ps {
		d := make([]int16, len(p.payload))
		Decode(d, p.payload, c)
		pcm = append(pcm, d...)
	}
	return pcm
}
