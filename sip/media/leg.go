package media

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"go.uber.org/zap"
)

// Transport is a leg's packet I/O: one RTP packet per call. *net.UDPConn is the transport of an RTP peer (a trunk,
// a SIP phone); a WebRTC track pair is another (sip/rtc), so a browser is one more kind of leg to the Bridge, the
// Pacer and the players. A transport other than a socket reports a fixed source address, and ignores to.
type Transport interface {
	ReadFromUDPAddrPort(b []byte) (n int, from netip.AddrPort, err error)
	WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error)
	// SetReadDeadline makes a blocked read return an error wrapping os.ErrDeadlineExceeded at t (zero: never).
	SetReadDeadline(t time.Time) error
	LocalAddr() net.Addr
	// Close ends the transport; a read then returns an error wrapping net.ErrClosed.
	Close() error
}

// LegConfig is what a Leg needs: its socket, the peer's address and what was negotiated with it.
type LegConfig struct {
	Conn         Transport      // from PortPool.Listen (or a WebRTC transport); the Leg owns and closes it
	Remote       netip.AddrPort // from the peer's SDP; replaced by where its packets come from (symmetric RTP latching)
	Codec        Codec          // the negotiated audio codec
	EventPT      uint8          // the peer's telephone-event payload type (e.g. 101); 0 = none negotiated
	MediaTimeout time.Duration  // no RTP for this long → Run returns ErrMediaTimeout (0 = off)
	// FirstMediaTimeout is the media timeout before the first packet (0 = MediaTimeout): trunks may start their RTP
	// late, so it is usually longer (livekit/sip: 30 s before, 15 s after).
	FirstMediaTimeout time.Duration
	OnDigit           func(r rune) // called for each key press (RFC 4733), from the leg's read goroutine: must not block
	Logger            *zap.Logger  // nil = no logs
}

// LegStats counts what a leg sent and received.
type LegStats struct {
	PacketsSent     uint64 // packets written, SendErrors included
	BytesSent       uint64 // RTP bytes, headers included
	SendErrors      uint64 // writes that failed
	PacketsReceived uint64 // RTP of the codec's or the event payload type, from the latched source
	BytesReceived   uint64
	Lost            uint64 // by gaps in the received sequence numbers
	Late            uint64 // received behind the highest sequence number so far (reordered or duplicated)
	Events          uint64 // telephone-event packets received
	Digits          uint64 // key presses detected
	UnknownPT       uint64 // RTP of another payload type, ignored
	Foreign         uint64 // RTP from another address than the latched one, ignored
	Malformed       uint64 // not RTP, ignored
	EventsDropped   uint64 // telephone-events not relayed to this leg because it negotiated none
}

type legCounters struct {
	sent, sentBytes, sendErrs                    atomic.Uint64
	recv, recvBytes, lost, late, events, digits  atomic.Uint64
	unknownPT, foreign, malformed, eventsDropped atomic.Uint64
}

// source is what a leg sends.
type source uint8

const (
	srcNone source = iota
	srcPlayer
	srcHold
	srcBridge
	srcMonitor
)

// A Leg is one party's RTP endpoint: a trunk caller, an agent's SIP phone. It has one outbound stream for its whole
// life (one SSRC; sequence +1 per packet; timestamp +160 per 20 ms, advanced by the real time elapsed across gaps and
// switches), whatever it plays: a Player, a HoldStream, nothing, or the other party of a Bridge.
type Leg struct {
	conn    Transport
	local   netip.AddrPort
	codec   Codec
	eventPT uint8
	timeout time.Duration
	// firstTimeout is the media timeout before the first packet.
	firstTimeout time.Duration
	onDigit      func(rune)
	log          *zap.Logger

	// The outbound stream, touched by the pacer and by the bridge relay from the other leg's read goroutine.
	mu          sync.Mutex
	closed      bool
	remote      netip.AddrPort
	latched     bool
	announced   netip.AddrPort // the SDP's address (NewLeg, SetRemote)
	cand        netip.AddrPort // a source other than the latched one, sending candRun valid packets in a row
	candRun     int
	src         source
	player      *Player
	hold        *HoldStream
	bridged     *Leg     // the leg whose packets this one relays (srcBridge)
	monitor     *Monitor // what this leg sends (srcMonitor)
	hdr         rtp.Header
	seq         uint16
	ts          uint32 // of the last audio packet sent
	started     bool   // a packet was sent
	lastAt      int64  // clock() of the last audio packet sent
	lastTick    uint64 // pacer tick of the last paced packet
	lastWall    int64  // clock() when the last paced packet was sent
	marker      bool   // set the marker bit on the next packet
	relayFresh  bool   // the next relayed packet re-anchors the timestamp
	relayInSSRC uint32
	tsOffset    uint32 // out timestamp - in timestamp while relaying

	peer atomic.Pointer[Leg] // where Run relays what it receives (Bridge)
	tap  atomic.Pointer[Recorder]
	mon  atomic.Pointer[Monitor] // a supervisor listening in (SetMonitor)

	pacer  atomic.Pointer[Pacer]
	pShard int // guarded by the Pacer's mutex
	pIdx   int

	// Read side: the Run goroutine only.
	rbuf      [1500]byte
	relayBuf  [1500]byte
	in        rtp.Header
	det       DTMFDetector
	inStarted bool
	inSSRC    uint32
	inSeq     uint16

	st legCounters
}

// clockEpoch anchors clock, the package's monotonic nanosecond clock.
var clockEpoch = time.Now()

func clock() int64 { return int64(time.Since(clockEpoch)) }

const tick = 20 * time.Millisecond

// NewLeg makes a leg on cfg.Conn with a random SSRC, sequence number and timestamp. It sends nothing until told to.
func NewLeg(cfg LegConfig) *Leg {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	l := &Leg{
		conn:         cfg.Conn,
		codec:        cfg.Codec,
		eventPT:      cfg.EventPT,
		timeout:      cfg.MediaTimeout,
		firstTimeout: cfg.FirstMediaTimeout,
		onDigit:      cfg.OnDigit,
		remote:       unmap(cfg.Remote),
		announced:    unmap(cfg.Remote),
		pShard:       -1,
	}
	if a, ok := cfg.Conn.LocalAddr().(*net.UDPAddr); ok && a != nil {
		l.local = unmap(a.AddrPort())
	}
	l.log = log.With(zap.Stringer("rtp", l.local))
	l.hdr = rtp.Header{Version: 2, SSRC: rand.Uint32()}
	l.seq = uint16(rand.Uint32())
	l.ts = rand.Uint32()
	return l
}

func unmap(a netip.AddrPort) netip.AddrPort {
	if !a.IsValid() {
		return a
	}
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// LocalAddr is the address the leg receives on.
func (l *Leg) LocalAddr() netip.AddrPort { return l.local }

// Codec is the leg's negotiated audio codec.
func (l *Leg) Codec() Codec { return l.codec }

// Remote is where the leg sends: the SDP address, or the latched source of the peer's packets.
func (l *Leg) Remote() netip.AddrPort {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.remote
}

// SetRemote sets where to send (a re-INVITE with a new address); the next RTP from a new source latches again.
func (l *Leg) SetRemote(a netip.AddrPort) {
	l.mu.Lock()
	l.remote = unmap(a)
	l.announced = l.remote
	l.latched = false
	l.mu.Unlock()
}

// Stats returns the leg's counters.
func (l *Leg) Stats() LegStats {
	s := &l.st
	return LegStats{
		PacketsSent: s.sent.Load(), BytesSent: s.sentBytes.Load(), SendErrors: s.sendErrs.Load(),
		PacketsReceived: s.recv.Load(), BytesReceived: s.recvBytes.Load(),
		Lost: s.lost.Load(), Late: s.late.Load(), Events: s.events.Load(), Digits: s.digits.Load(),
		UnknownPT: s.unknownPT.Load(), Foreign: s.foreign.Load(), Malformed: s.malformed.Load(),
		EventsDropped: s.eventsDropped.Load(),
	}
}

// Close stops the leg's sending, takes it off its pacer and closes its socket, which ends Run.
func (l *Leg) Close() error {
	if p := l.pacer.Load(); p != nil {
		p.Remove(l)
	}
	l.mu.Lock()
	was := l.closed
	l.closed = true
	old := l.switchLocked(srcNone, nil, nil, nil)
	l.mu.Unlock()
	l.peer.Store(nil)
	if old != nil {
		old.Stop()
	}
	if was {
		return nil
	}
	return l.conn.Close()
}

// Run reads the peer's packets until ctx ends (nil), Close (nil), or no RTP arrives for the media timeout
// (ErrMediaTimeout; FirstMediaTimeout before the first packet). It latches the send address to the first valid
// source, detects key presses, counts losses, and relays each packet at once to the bridged leg. It allocates
// nothing per packet.
func (l *Leg) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = l.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	limit := l.firstTimeout // until the first valid packet, then l.timeout
	if limit == 0 {
		limit = l.timeout
	}
	lastValid := time.Now()
	deadlineSet := lastValid
	if limit > 0 {
		_ = l.conn.SetReadDeadline(lastValid.Add(limit))
	}
	if ctx.Err() != nil {
		return nil
	}
	got, errs := false, 0
	for {
		n, from, err := l.conn.ReadFromUDPAddrPort(l.rbuf[:])
		if err != nil {
			switch {
			case ctx.Err() != nil, errors.Is(err, net.ErrClosed):
				return nil
			case errors.Is(err, os.ErrDeadlineExceeded):
				if limit > 0 && time.Since(lastValid) >= limit {
					return ErrMediaTimeout
				}
				deadlineSet = lastValid
				if limit > 0 {
					_ = l.conn.SetReadDeadline(lastValid.Add(limit))
				} else {
					_ = l.conn.SetReadDeadline(time.Time{})
				}
				if ctx.Err() != nil {
					return nil
				}
				continue
			}
			if errs++; errs > 100 {
				return fmt.Errorf("media: read RTP on %s: %w", l.local, err)
			}
			continue
		}
		errs = 0
		if !l.receive(l.rbuf[:n], from) {
			continue
		}
		if !got {
			got, limit = true, l.timeout
			deadlineSet = time.Time{} // set the deadline for the new limit now
			if limit <= 0 {
				_ = l.conn.SetReadDeadline(time.Time{})
			}
		}
		if limit <= 0 {
			continue
		}
		lastValid = time.Now()
		if lastValid.Sub(deadlineSet) > limit/4 {
			deadlineSet = lastValid
			_ = l.conn.SetReadDeadline(lastValid.Add(limit))
			if ctx.Err() != nil {
				return nil
			}
		}
	}
}
