package media

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// An Event is one RFC 4733 telephone-event payload: a key (Code 0-15 for DTMF), whether this packet ends the event,
// its volume (0-63, in -dBm0) and its duration so far in RTP timestamp units.
type Event struct {
	Code     uint8
	End      bool
	Volume   uint8
	Duration uint16
}

// EventSize is the size of one telephone-event payload.
const EventSize = 4

var (
	errShortEvent = fmt.Errorf("%w: payload shorter than %d bytes", ErrBadEvent, EventSize)
	errEventBuf   = fmt.Errorf("%w: buffer shorter than %d bytes", ErrBadEvent, EventSize)
	errVolume     = fmt.Errorf("%w: volume above 63", ErrBadEvent)
)

// ParseEvent parses the first event of a telephone-event payload (a payload may carry several, RFC 4733 2.5.1.5;
// the rest are redundant copies). The reserved bit is ignored.
func ParseEvent(payload []byte) (Event, error) {
	if len(payload) < EventSize {
		return Event{}, errShortEvent
	}
	return Event{
		Code:     payload[0],
		End:      payload[1]&0x80 != 0,
		Volume:   payload[1] & 0x3F,
		Duration: binary.BigEndian.Uint16(payload[2:4]),
	}, nil
}

// MarshalTo writes the event's EventSize bytes to b.
func (e Event) MarshalTo(b []byte) (int, error) {
	if len(b) < EventSize {
		return 0, errEventBuf
	}
	if e.Volume > 63 {
		return 0, errVolume
	}
	b[0] = e.Code
	b[1] = e.Volume
	if e.End {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:4], e.Duration)
	return EventSize, nil
}

const dtmfKeys = "0123456789*#ABCD"

// DigitOf returns the key of a DTMF event code: 0-9 → '0'…'9', 10 '*', 11 '#', 12-15 'A'…'D'.
func DigitOf(code uint8) (rune, bool) {
	if int(code) >= len(dtmfKeys) {
		return 0, false
	}
	return rune(dtmfKeys[code]), true
}

// CodeOf returns the event code of a DTMF key (DigitOf's inverse; 'a'-'d' are accepted too).
func CodeOf(r rune) (uint8, bool) {
	if r >= 'a' && r <= 'd' {
		r -= 'a' - 'A'
	}
	i := strings.IndexRune(dtmfKeys, r)
	if i < 0 {
		return 0, false
	}
	return uint8(i), true
}

// A DTMFDetector turns the telephone-event packets of one RTP stream into key presses. It reports each press once,
// at the first packet of it that arrives — even one with duration 0 — keyed by the RTP timestamp that every packet
// of one event shares (the retransmitted end packets included). The same key pressed twice has two timestamps and
// is reported twice. The zero value is ready; it is not safe for concurrent use.
type DTMFDetector struct {
	seen [4]uint32 // timestamps of the latest events, newest at next-1
	n    int
	next int
}

// Feed takes one telephone-event packet's timestamp and event and returns the key when the packet starts a new
// key press. Codes that are not DTMF keys (e.g. 16, flash) are never reported.
func (d *DTMFDetector) Feed(rtpTimestamp uint32, e Event) (digit rune, ok bool) {
	for i := range d.n {
		if d.seen[i] == rtpTimestamp {
			return 0, false
		}
	}
	d.seen[d.next] = rtpTimestamp
	d.next = (d.next + 1) % len(d.seen)
	if d.n < len(d.seen) {
		d.n++
	}
	return DigitOf(e.Code)
}

// Reset forgets the events seen, for a stream that restarted (a new SSRC).
func (d *DTMFDetector) Reset() { *d = DTMFDetector{} }

// ParseInfoDTMF returns the key carried by a SIP INFO body: application/dtmf-relay ("Signal=5\r\nDuration=160")
// or application/dtmf (the key alone). A key is 0-9, *, #, A-D, or an event code 10-15. Every error wraps
// ErrBadEvent.
func ParseInfoDTMF(contentType string, body []byte) (rune, error) {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	var signal string
	switch mt {
	case "application/dtmf-relay":
		found := false
		for line := range strings.Lines(string(body)) {
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				signal, found = strings.TrimSpace(v), true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("%w: dtmf-relay body has no Signal line", ErrBadEvent)
		}
	case "application/dtmf":
		signal = strings.TrimSpace(string(body))
	default:
		return 0, fmt.Errorf("%w: INFO content type %q is not application/dtmf-relay or application/dtmf", ErrBadEvent, mt)
	}
	if r, ok := signalKey(signal); ok {
		return r, nil
	}
	if len(signal) > 16 {
		signal = signal[:16] + "…"
	}
	return 0, fmt.Errorf("%w: signal %q is not a DTMF key", ErrBadEvent, signal)
}

func signalKey(s string) (rune, bool) {
	if len(s) == 1 {
		if c, ok := CodeOf(rune(s[0])); ok {
			return DigitOf(c)
		}
		return 0, false
	}
	if len(s) == 2 && s[0] == '1' {
		if n, err := strconv.Atoi(s); err == nil && n <= 15 {
			return DigitOf(uint8(n))
		}
	}
	return 0, false
}
