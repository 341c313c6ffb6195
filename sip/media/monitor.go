package media

import (
	"sync"
	"sync/atomic"
)

// A Monitor is a supervisor's silent listening to a call: the leg it taps (SetMonitor on the caller's leg) copies
// what it receives (the caller) and what it sends (the agent, or hold audio) into it, and a third leg that Listens
// to it is sent both mixed, one frame per pacer tick, in that leg's own codec. Nothing goes the other way: the
// listening leg is bridged to nothing, so what its peer sends is read and dropped. Each side is a short FIFO
// (started once two frames are in, to ride out jitter; bounded, the oldest samples dropped when it runs ahead), so
// the supervisor hears the call about 40 ms late. Putting a frame never blocks and allocates nothing.
type Monitor struct {
	mu      sync.Mutex
	fifo    [2][]int16 // by tap direction: TapIn (the tapped leg's peer), TapOut (what the tapped leg sends)
	playing [2]bool
	pcm     [maxTapBytes]int16
	mix     [FrameSamples]int16
	out     [FrameSamples]byte
	stopped atomic.Bool
	taken   atomic.Uint64
	dropped atomic.Uint64
}

const (
	monPrime = 2 * FrameSamples  // a side starts playing once this much is buffered
	monMax   = 10 * FrameSamples // and never holds more than this (200 ms)
)

// NewMonitor returns a monitor with nothing buffered.
func NewMonitor() *Monitor {
	m := &Monitor{}
	for i := range m.fifo {
		m.fifo[i] = make([]int16, 0, monMax+maxTapBytes)
	}
	return m
}

// Stop ends the monitor: it takes nothing more and sends silence.
func (m *Monitor) Stop() { m.stopped.Store(true) }

// Frames is how many frames the monitor took from the tapped leg; Dropped how many samples it dropped because a
// side ran ahead of the listener.
func (m *Monitor) Frames() uint64  { return m.taken.Load() }
func (m *Monitor) Dropped() uint64 { return m.dropped.Load() }

// put copies one frame of one direction.
func (m *Monitor) put(dir uint8, c Codec, payload []byte) {
	if m.stopped.Load() || int(dir) >= len(m.fifo) || len(payload) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(payload)
	if n > maxTapBytes {
		n = maxTapBytes
	}
	Decode(m.pcm[:n], payload[:n], c)
	f := append(m.fifo[dir], m.pcm[:n]...)
	if over := len(f) - monMax; over > 0 {
		copy(f, f[over:])
		f = f[:len(f)-over]
		m.dropped.Add(uint64(over))
	}
	m.fifo[dir] = f
	m.taken.Add(1)
}

// frame is the next 20 ms of both sides mixed, in codec c (silence when neither has audio).
func (m *Monitor) frame(c Codec) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sum [FrameSamples]int32
	for d := range m.fifo {
		f := m.fifo[d]
		if !m.playing[d] && len(f) >= monPrime {
			m.playing[d] = true
		}
		if !m.playing[d] {
			continue
		}
		k := min(len(f), FrameSamples)
		for i := 0; i < k; i++ {
			sum[i] += int32(f[i])
		}
		copy(f, f[k:])
		m.fifo[d] = f[:len(f)-k]
		if len(m.fifo[d]) == 0 {
			m.playing[d] = false // ran dry: buffer again
		}
	}
	for i, v := range sum {
		m.mix[i] = int16(max(-32768, min(32767, v)))
	}
	Encode(m.out[:], m.mix[:], c)
	return m.out[:]
}

// SetMonitor has the leg copy its audio, both ways, to m (nil: no more): what it receives as one side, what it
// sends as the other.
func (l *Leg) SetMonitor(m *Monitor) { l.mon.Store(m) }

// Listen sends m's mix, paced by the leg's Pacer: the leg of a supervisor listening in. Whatever it played stops.
func (l *Leg) Listen(m *Monitor) {
	if m == nil {
		l.Mute()
		return
	}
	l.mu.Lock()
	old := l.switchLocked(srcMonitor, nil, nil, nil)
	l.monitor = m
	l.mu.Unlock()
	if old != nil {
		old.Stop()
	}
}
