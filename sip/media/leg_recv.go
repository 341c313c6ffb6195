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
		t.put(TapIn, l.codec, payload)
	}
	if m := l.mon.Load(); m != nil && !isEvent {
		m.put(TapIn, l.codec, payload)
	}
	if p := l.peer.Load(); p != nil {
		p.relay(l, &l.in, payload, isEvent, l.relayBuf[:])
	}
	return true
}

// latch accepts a packet's source: the first valid source after NewLeg or SetRemote becomes the send address
// (symmetric RTP); after that only that source is accepted.
func (l *Leg) latch(from netip.AddrPort) bool {
	l.mu.Lock()
	if l.latched {
		ok := from == l.remote
		l.mu.Unlock()
		return ok
	}
	old := l.remote
	l.remote, l.latched = from, true
	l.mu.Unlock()
	if old != from {
		l.log.Debug("latched RTP to its source", zap.Stringer("announced", old), zap.Stringer("source", from))
	}
	return true
}

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
