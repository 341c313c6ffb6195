package media

import (
	"net/netip"

	"go.uber.org/zap"
)

// receive handles one datagram from the peer and reports whether it was RTP the leg expects from its source.
func (l *Leg) receive(b []byte, from netip.AddrPort) bool {
	if len(b) < 12 || b[0]>>6 != 2 {
		l.st.malformed.Add(1)
		return false
	}
	hl, err := l.in.Unmarshal(b)
	if err != nil {
		l.st.malformed.Add(1)
		return false
	}
	payload := b[hl:]
	if l.in.Padding {
		if len(payload) == 0 || payload[len(payload)-1] == 0 || int(payload[len(payload)-1]) > len(payload) {
			l.st.malformed.Add(1)
			return false
		}
		payload = payload[:len(payload)-int(payload[len(payload)-1])]
	}
	pt := l.in.PayloadType
	isEvent := l.eventPT != 0 && pt == l.eventPT
	if !isEvent && pt != uint8(l.codec) {
		l.st.unknownPT.Add(1)
		return false
	}
	if !l.latch(unmap(from)) {
		l.st.foreign.Add(1)
		return false
	}
	l.st.recv.Add(1)
	l.st.recvBytes.Add(uint64(len(b)))
	l.trackSeq()
	if isEvent {
		l.st.events.Add(1)
		e, err := ParseEvent(payload)
		if err != nil {
			l.st.malformed.Add(1)
			return true
		}
		if r, ok := l.det.Feed(l.in.Timestamp, e); ok {
			l.st.digits.Add(1)
			if l.onDigit != nil {
				l.onDigit(r)
			}
		}
	}
	if t := l.tap.Load(); t != nil && !isEvent {
		t.put(TapIn, l.codec, l.in.Timestamp, payload)
	}
	if m := l.mon.Load(); m != nil && !isEvent {
		m.put(TapIn, l.codec, payload)
	}
	if p := l.peer.Load(); p != nil {
		p.relay(l, &l.in, payload, isEvent, l.relayBuf[:])
	}
	return true
}

// latch accepts a packet's source. The first valid source after NewLeg or SetRemote becomes the send address
// (symmetric RTP); after that other sources are ignored, but for two. The SDP's own address is the peer itself: it
// takes over at once (a stale stream still sent to this port for an earlier call can latch first: the new caller's
// audio was then dropped as foreign and the call hung up for no media). And a source that sends relatchRun valid
// packets in a row, none coming from the latched source meanwhile, takes over (the peer's NAT rebound, or a stale
// stream that latched first stopped); a live latched source interleaves and keeps its place.
func (l *Leg) latch(from netip.AddrPort) bool {
	l.mu.Lock()
	if l.latched && from == l.remote {
		l.candRun = 0
		l.mu.Unlock()
		return true
	}
	if l.latched && from != l.announced {
		if from != l.cand {
			l.cand, l.candRun = from, 0
		}
		if l.candRun++; l.candRun < relatchRun {
			l.mu.Unlock()
			return false
		}
	}
	old, was := l.remote, l.latched
	l.remote, l.latched, l.candRun = from, true, 0
	l.mu.Unlock()
	switch {
	case was:
		l.log.Info("RTP source moved", zap.Stringer("from", old), zap.Stringer("to", from))
	case old != from:
		l.log.Debug("latched RTP to its source", zap.Stringer("announced", old), zap.Stringer("source", from))
	}
	return true
}

// relatchRun is how many valid packets in a row (0.5 s of 20 ms frames) a new source sends, with nothing from the
// latched source meanwhile, before the leg takes it as the peer's.
const relatchRun = 25

// trackSeq counts losses by sequence gaps, and late (reordered or duplicated) packets.
func (l *Leg) trackSeq() {
	seq := l.in.SequenceNumber
	if !l.inStarted || l.in.SSRC != l.inSSRC {
		l.inStarted, l.inSSRC, l.inSeq = true, l.in.SSRC, seq
		l.det.Reset()
		return
	}
	switch d := seq - l.inSeq; {
	case d == 0 || d >= 0x8000:
		l.st.late.Add(1)
	default:
		l.st.lost.Add(uint64(d - 1))
		l.inSeq = seq
	}
}
