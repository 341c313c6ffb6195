package media

import (
	"context"
	"fmt"
	"time"
)

// DigitDuration is how long SendDigit holds a key: 100 ms, then the end packet three times (RFC 4733 2.5.1.4).
const DigitDuration = 100 * time.Millisecond

// SendDigit sends key r (0-9, *, #, A-D) on the leg's stream as an RFC 4733 telephone-event with the peer's event
// payload type: one packet every 20 ms for DigitDuration (the first with the marker bit), all with the timestamp of
// the key's start, then the end packet three times. Audio the leg sends meanwhile goes on. It returns once the end
// is sent, or ctx's error when it ended first (the end packets are still sent, so the peer sees no stuck key).
func (l *Leg) SendDigit(ctx context.Context, r rune) error {
	code, ok := CodeOf(r)
	if !ok {
		return fmt.Errorf("%w: %q is not a DTMF key", ErrBadEvent, r)
	}
	if l.eventPT == 0 {
		return ErrNoEvents
	}
	l.mu.Lock()
	ts := l.advanceLocked(clock())
	l.mu.Unlock()
	steps := int(DigitDuration / tick)
	t := time.NewTicker(tick)
	defer t.Stop()
	var err error
	for i := 0; i < steps+3; i++ {
		end := i >= steps
		dur := uint16(min(i+1, steps) * FrameSamples)
		if !l.sendEvent(Event{Code: code, End: end, Volume: 10, Duration: dur}, ts, i == 0) {
			return ErrClosed
		}
		if i == steps+2 {
			break
		}
		if err == nil && !end {
			select {
			case <-t.C:
			case <-ctx.Done():
				err = ctx.Err()
				i = steps - 1 // straight to the end packets
			}
		}
	}
	return err
}

// sendEvent writes one telephone-event packet; false when the leg is closed.
func (l *Leg) sendEvent(e Event, ts uint32, marker bool) bool {
	var buf [12 + EventSize]byte
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	if !sendable(l.remote) {
		return true
	}
	n := l.stampLocked(buf[:], l.eventPT, ts, marker)
	m, _ := e.MarshalTo(buf[n:]) // cannot fail: the buffer fits and the volume is 10
	l.writeLocked(buf[:n+m])
	return true
}
