package media

import (
	"math"
	"testing"
)

func monTone(hz float64, n, off int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(6000 * math.Sin(2*math.Pi*hz*float64(i+off)/8000))
	}
	return out
}

// goertzelRatio is the share of pcm's energy at hz (≈ 1 for a pure tone).
func goertzelRatio(pcm []int16, hz float64) float64 {
	coeff := 2 * math.Cos(2*math.Pi*hz/8000)
	var s1, s2, e float64
	for _, x := range pcm {
		f := float64(x)
		e += f * f
		s1, s2 = f+coeff*s1-s2, s1
	}
	if e == 0 {
		return 0
	}
	return (s1*s1 + s2*s2 - coeff*s1*s2) / (float64(len(pcm)) / 2 * e)
}

// TestMonitorMixes: frames put on both sides come out mixed (each tone
// about half the energy), in the listener's codec whatever the sides' were;
// a side starts once two frames are buffered; a side running ahead is cut
// to 200 ms; nothing buffered is silence; Stop takes nothing more.
func TestMonitorMixes(t *testing.T) {
	m := NewMonitor()
	enc := func(pcm []int16, c Codec) []byte { b := make([]byte, len(pcm)); Encode(b, pcm, c); return b }
	dec := func(b []byte, c Codec) []int16 { p := make([]int16, len(b)); Decode(p, b, c); return p }
	silent := func(pcm []int16) bool {
		for _, x := range pcm {
			if x > 16 || x < -16 {
				return false
			}
		}
		return true
	}
	if !silent(dec(m.frame(PCMU), PCMU)) {
		t.Fatal("nothing buffered must be silence")
	}
	m.put(TapIn, PCMU, enc(monTone(1000, FrameSamples, 0), PCMU))
	if !silent(dec(m.frame(PCMA), PCMA)) {
		t.Fatal("one frame is not enough to start a side")
	}
	var mixed []int16
	for k := 1; k < 20; k++ {
		m.put(TapIn, PCMU, enc(monTone(1000, FrameSamples, k*FrameSamples), PCMU))
		m.put(TapOut, PCMA, enc(monTone(1700, FrameSamples, k*FrameSamples), PCMA))
		if k >= 2 {
			mixed = append(mixed, dec(m.frame(PCMA), PCMA)...)
		}
	}
	a, b, c := goertzelRatio(mixed, 1000), goertzelRatio(mixed, 1700), goertzelRatio(mixed, 2300)
	t.Logf("mixed %d samples: 1000 Hz %.3f, 1700 Hz %.3f, 2300 Hz %.4f", len(mixed), a, b, c)
	if a < 0.35 || b < 0.35 || a+b < 0.9 || c > 0.01 {
		t.Fatalf("not a mix of both: %.3f %.3f %.4f", a, b, c)
	}
	for k := 0; k < 50; k++ { // a second ahead of the listener
		m.put(TapIn, PCMU, enc(monTone(1000, FrameSamples, 0), PCMU))
	}
	if n := len(m.fifo[TapIn]); n > monMax {
		t.Fatalf("a side holds %d samples, at most %d", n, monMax)
	}
	if m.Dropped() == 0 {
		t.Fatal("the excess is counted")
	}
	m.Stop()
	before := m.Frames()
	m.put(TapOut, PCMU, enc(monTone(1700, FrameSamples, 0), PCMU))
	if m.Frames() != before {
		t.Fatal("a stopped monitor took a frame")
	}
}

// BenchmarkMonitor is one 20 ms tick of a monitored call: a frame of each
// side in, one mixed frame out.
func BenchmarkMonitor(b *testing.B) {
	m := NewMonitor()
	f := make([]byte, FrameSamples)
	Encode(f, monTone(1000, FrameSamples, 0), PCMU)
	b.ReportAllocs()
	for b.Loop() {
		m.put(TapIn, PCMU, f)
		m.put(TapOut, PCMU, f)
		_ = m.frame(PCMA)
	}
}
