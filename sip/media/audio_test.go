package media

import (
	"math"
)

// tone returns n samples of a sine at freq Hz, amplitude amp.
func tone(freq float64, amp float64, n int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	return pcm
}

// goertzel returns the power of freq in pcm relative to the signal's total power (0..1 for a pure tone ~1).
func goertzel(pcm []int16, freq float64) float64 {
	w := 2 * math.Pi * freq / 8000
	coeff := 2 * math.Cos(w)
	var s1, s2, total float64
	for _, x := range pcm {
		v := float64(x)
		total += v * v
		s := v + coeff*s1 - s2
		s2, s1 = s1, s
	}
	if total == 0 {
		return 0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * power / (float64(len(pcm)) * total)
}

// dominant returns which of freqs carries the most of pcm's power, and that share.
func dominant(pcm []int16, freqs ...float64) (float64, float64) {
	best, share := 0.0, 0.0
	for _, f := range freqs {
		if g := goertzel(pcm, f); g > share {
			best, share = f, g
		}
	}
	return best, share
}
