package siptest

import "math"

// SampleRate is the rate of all audio in these helpers: G.711 narrowband.
const SampleRate = 8000

// Tone reports how much of pcm's energy lies at frequency hz, from 0 (none) to
// about 1 (a pure tone at hz), by the Goertzel algorithm: |X(hz)|² divided by
// what a pure sinusoid of the same energy would give. Silence gives 0. Use a
// window of a few hundred samples or more; with a whole number of cycles in the
// window a pure tone reads ≈ 1, otherwise leakage lowers it a little.
func Tone(pcm []int16, hz float64) float64 {
	n := len(pcm)
	if n == 0 {
		return 0
	}
	coeff := 2 * math.Cos(2*math.Pi*hz/SampleRate)
	var s1, s2, energy float64
	for _, x := range pcm {
		f := float64(x)
		energy += f * f
		s0 := f + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	if energy == 0 {
		return 0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return power / (float64(n) / 2 * energy)
}

// ToneThreshold is the Tone ratio above which HasTone says a tone is present.
// A tone mixed with another of equal level reads about 0.5 each; a pure tone
// through G.711 reads above 0.9; another frequency 100 Hz or more away reads
// well under 0.1 over 160 samples or more.
const ToneThreshold = 0.4

// HasTone reports whether hz dominates pcm (Tone above ToneThreshold) and pcm
// is not near-silent (RMS at least 100, about −50 dBFS).
func HasTone(pcm []int16, hz float64) bool {
	return RMS(pcm) >= 100 && Tone(pcm, hz) > ToneThreshold
}

// RMS is the root mean square of pcm.
func RMS(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var e float64
	for _, x := range pcm {
		e += float64(x) * float64(x)
	}
	return math.Sqrt(e / float64(len(pcm)))
}

// SineWave returns samples samples (at SampleRate) of a sine at hz with peak
// amplitude amp (of 32767),
// for audio to send in tests.
func SineWave(hz float64, samples int, amp float64) []int16 {
	out := make([]int16, samples)
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(2*math.Pi*hz*float64(i)/SampleRate)))
	}
	return out
}

// Correlation is the highest normalised cross-correlation of clip
// anywhere in pcm (1: an exact copy).
func Correlation(pcm, clip []int16) float64 {
	var ee float64
	for _, y := range clip {
		ee += float64(y) * float64(y)
	}
	best := 0.0
	for off := 0; off+len(clip) <= len(pcm); off++ {
		var xy, xx float64
		for i, y := range clip {
			x := float64(pcm[off+i])
			xy += x * float64(y)
			xx += x * x
		}
		if xx > 0 && ee > 0 {
			best = math.Max(best, xy/math.Sqrt(xx*ee))
		}
	}
	return best
}
