package media

import (
	"net/netip"

	"github.com/pion/rtp"
)

// Play sends p's clips, paced by the leg's Pacer; nil sends nothing. Whatever the leg was playing stops (a Player
// that was playing is stopped: its Done closes).
func (l *Leg) Play(p *Player) {
	if p == nil {
		l.Mute()
		return
	}
	l.switchTo(srcPlayer, p, nil, nil)
}

// Hold sends the shared hold stream h, paced by the leg's Pacer; nil sends nothing.
func (l *Leg) Hold(h *HoldStream) {
	if h == nil {
		l.Mute()
		return
	}
	l.switchTo(srcHold, nil, h, nil)
}

// Mute sends nothing (e.g. while the far side has put the call on hold).
func (l *Leg) Mute() { l.switchTo(srcNone, nil, nil, nil) }

func (l *Leg) switchTo(src source, p *Player, h *HoldStream, bridged *Leg) {
	l.mu.Lock()
	old := l.switchLocked(src, p, h, bridged)
	l.mu.Unlock()
	if old != nil {
		old.Stop()
	}
}

// switchLocked changes the source and returns the Player it replaced, for the caller to stop outside the lock.
func (l *Leg) switchLocked(src source, p *Player, h *HoldStream, bridged *Leg) (replaced *Player) {
	if l.closed && src != srcNone {
		return p
	}
	if l.src == src && l.player == p && l.hold == h && l.bridged == bridged {
		return nil
	}
	if l.player != p {
		replaced = l.player
	}
	l.src, l.player, l.hold, l.bridged = src, p, h, bridged
	l.marker, l.relayFresh = true, true
	return replaced
}

// advanceLocked moves the audio timestamp to clock time at: +160 per 20 ms elapsed since the last audio packet
// (at least one period), or the stream's random start for its first packet. A gap of more than one period (a tick
// the machine made late, the pause between the welcome and the agent) marks the next packet, as RFC 3551 (4.1)
// marks the first packet after silence: the receiver's jitter buffer places it anew instead of taking it as late.
func (l *Leg) advanceLocked(at int64) uint32 {
	if l.started {
		periods := (at - l.lastAt + int64(tick)/2) / int64(tick)
		if periods < 1 {
			periods = 1
		}
		if periods > 1 {
			l.marker = true
		}
		l.ts += uint32(periods) * FrameSamples
	}
	l.started = true
	l.lastAt = at
	return l.ts
}

// stampLocked writes the next packet's 12-byte header to b.
func (l *Leg) stampLocked(b []byte, pt uint8, ts uint32, marker bool) int {
	l.hdr.PayloadType = pt
	l.hdr.Timestamp = ts
	l.hdr.SequenceNumber = l.seq
	l.hdr.Marker = marker || l.marker
	l.seq++
	l.marker = false
	n, _ := l.hdr.MarshalTo(b) // cannot fail: b holds 1500 bytes and the header has no CSRC or extension
	return n
}

func (l *Leg) writeLocked(b []byte) bool {
	l.st.sent.Add(1) // before the write, so the counter is up to date when the packet arrives
	l.st.sentBytes.Add(uint64(len(b)))
	if _, err := l.conn.WriteToUDPAddrPort(b, l.remote); err != nil {
		l.st.sendErrs.Add(1)
		return false
	}
	return true
}

// paced sends the leg's frame for pacer tick k (due at clock time at) from buf, a buffer owned by the pacer shard's
// goroutine. It returns the interval since the previous tick's packet when both were paced (else 0), and whether a
// packet was sent.
func (l *Leg) paced(k uint64, at int64, buf []byte) (interval int64, sent bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || !sendable(l.remote) {
		return 0, false
	}
	var payload []byte
	switch l.src {
	case srcPlayer:
		payload = l.player.next(l.codec)
	case srcHold:
		payload = l.hold.frame(k, l.codec)
	case srcMonitor:
		payload = l.monitor.frame(l.codec)
	}
	if payload == nil {
		return 0, false
	}
	ts := l.advanceLocked(at)
	n := l.stampLocked(buf, uint8(l.codec), ts, false)
	n += copy(buf[n:], payload)
	if !l.writeLocked(buf[:n]) {
		return 0, false
	}
	if t := l.tap.Load(); t != nil {
		t.put(TapOut, l.codec, ts, payload)
	}
	if m := l.mon.Load(); m != nil {
		m.put(TapOut, l.codec, payload)
	}
	if l.src == srcPlayer && l.player.remaining() == 0 {
		l.player.finish()
	}
	wall := clock()
	if l.lastTick+1 == k && l.lastWall != 0 {
		interval = wall - l.lastWall
	}
	l.lastTick, l.lastWall = k, wall
	return interval, true
}

// relay sends one packet received by leg from (audio in from's codec, or a telephone-event) on this leg's stream,
// from buf, a buffer owned by from's read goroutine.
func (l *Leg) relay(from *Leg, in *rtp.Header, payload []byte, isEvent bool, buf []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.src != srcBridge || l.bridged != from || !sendable(l.remote) || len(payload) > len(buf)-12 {
		return
	}
	pt := uint8(l.codec)
	if isEvent {
		if l.eventPT == 0 {
			l.st.eventsDropped.Add(1)
			return
		}
		pt = l.eventPT
	}
	at := clock()
	if l.relayFresh || in.SSRC != l.relayInSSRC {
		l.tsOffset = l.advanceLocked(at) - in.Timestamp
		l.relayFresh, l.relayInSSRC = false, in.SSRC
	}
	ts := in.Timestamp + l.tsOffset
	if !isEvent {
		l.ts, l.lastAt = ts, at
	}
	n := l.stampLocked(buf, pt, ts, in.Marker)
	h := n
	if isEvent {
		n += copy(buf[n:], payload)
	} else {
		Transcode(buf[n:n+len(payload)], payload, from.codec, l.codec)
		n += len(payload)
	}
	l.writeLocked(buf[:n])
	if t := l.tap.Load(); t != nil && !isEvent {
		t.put(TapOut, l.codec, ts, buf[h:n])
	}
	if m := l.mon.Load(); m != nil && !isEvent {
		m.put(TapOut, l.codec, buf[h:n])
	}
}

// sendable reports whether packets can go to a: not unset, not 0.0.0.0 or port 0 (SDP's "no media here").
func sendable(a netip.AddrPort) bool {
	return a.IsValid() && !a.Addr().IsUnspecified() && a.Port() != 0
}
