package media

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestG711KnownValues(t *testing.T) {
	// Reference values from an independent G.711 implementation (Python's audioop, after Sun's g711.c).
	for _, tc := range []struct {
		s     int16
		mulaw byte
		alaw  byte
	}{
		{0, 0xFF, 0xD5},
		{-1, 0x7E, 0x55},
		{1, 0xFF, 0xD5},
		{-2, 0x7E, 0x55},
		{2, 0xFF, 0xD5},
		{-3, 0x7E, 0x55},
		{3, 0xFF, 0xD5},
		{-4, 0x7E, 0x55},
		{4, 0xFE, 0xD5},
		{-5, 0x7E, 0x55},
		{5, 0xFE, 0xD5},
		{-8, 0x7E, 0x55},
		{8, 0xFE, 0xD5},
		{15, 0xFD, 0xD5},
		{-15, 0x7D, 0x55},
		{16, 0xFD, 0xD4},
		{-16, 0x7D, 0x55},
		{31, 0xFB, 0xD4},
		{-31, 0x7B, 0x54},
		{32, 0xFB, 0xD7},
		{-32, 0x7B, 0x54},
		{100, 0xF2, 0xD3},
		{-100, 0x72, 0x53},
		{123, 0xF0, 0xD2},
		{-123, 0x6F, 0x52},
		{255, 0xE7, 0xDA},
		{-256, 0x67, 0x5A},
		{511, 0xDB, 0xCA},
		{-512, 0x5B, 0x4A},
		{1000, 0xCE, 0xFA},
		{-1000, 0x4E, 0x7A},
		{1023, 0xCD, 0xFA},
		{-1024, 0x4D, 0x7A},
		{2047, 0xBE, 0xEA},
		{-2048, 0x3E, 0x6A},
		{4000, 0xAF, 0x9A},
		{-4000, 0x2F, 0x1A},
		{8000, 0xA0, 0x8A},
		{-8000, 0x20, 0x0A},
		{16383, 0x8F, 0xBA},
		{-16384, 0x0F, 0x3A},
		{20000, 0x8C, 0xA6},
		{-20000, 0x0C, 0x26},
		{32124, 0x80, 0xAA},
		{-32124, 0x00, 0x2A},
		{32635, 0x80, 0xAA},
		{-32635, 0x00, 0x2A},
		{32767, 0x80, 0xAA},
		{-32768, 0x00, 0x2A},
	} {
		require.Equal(t, tc.mulaw, EncodeMulaw(tc.s), "µ-law of %d", tc.s)
		require.Equal(t, tc.alaw, EncodeAlaw(tc.s), "A-law of %d", tc.s)
	}
	for i := range 256 {
		require.Equal(t, refMulaw[i], DecodeMulaw(byte(i)), "µ-law %#x", i)
		require.Equal(t, refAlaw[i], DecodeAlaw(byte(i)), "A-law %#x", i)
	}
	require.Equal(t, int16(-32124), DecodeMulaw(0x00))
	require.Equal(t, int16(32124), DecodeMulaw(0x80))
	require.Equal(t, int16(0), DecodeMulaw(0x7F)) // negative zero
	require.Equal(t, int16(8), DecodeAlaw(0xD5))
	require.Equal(t, int16(-8), DecodeAlaw(0x55))
	require.Equal(t, int16(32256), DecodeAlaw(0xAA))
	require.Equal(t, int16(-32256), DecodeAlaw(0x2A))
}

func TestG711RoundTrip(t *testing.T) {
	for s := math.MinInt16; s <= math.MaxInt16; s++ {
		x := int16(s)
		mag := int(x)
		if mag < 0 {
			mag = -mag
		}
		// µ-law: half a quantisation step, at most (|s|+132)/32, plus the 14-bit truncation, plus the clip.
		mu := int(DecodeMulaw(EncodeMulaw(x)))
		bound := (mag+132)/32 + 4
		if mag > 32124 {
			bound = mag - 32124 + 1
		}
		require.LessOrEqual(t, abs(mu-int(x)), bound, "µ-law round trip of %d gave %d", x, mu)
		// A-law: half a step, at most |s|/32 or 8, plus the ones' complement of negatives.
		a := int(DecodeAlaw(EncodeAlaw(x)))
		abound := max(mag/32+1, 9)
		if mag > 32256 {
			abound = mag - 32256 + 1
		}
		require.LessOrEqual(t, abs(a-int(x)), abound, "A-law round trip of %d gave %d", x, a)
		// Neither flips the sign (a value may round to 0).
		require.False(t, mu != 0 && x != 0 && (mu < 0) != (x < 0), "µ-law round trip of %d gave %d", x, mu)
		require.False(t, a != 0 && x != 0 && (a < 0) != (x < 0), "A-law round trip of %d gave %d", x, a)
	}
	// Every code decodes to a value that encodes back to the same code (both zeros of µ-law excepted).
	for i := range 256 {
		b := byte(i)
		if b != 0x7F {
			require.Equal(t, b, EncodeMulaw(DecodeMulaw(b)), "µ-law code %#x", b)
		}
		require.Equal(t, b, EncodeAlaw(DecodeAlaw(b)), "A-law code %#x", b)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestTranscodeTables(t *testing.T) {
	src := make([]byte, 256)
	for i := range src {
		src[i] = byte(i)
	}
	dst := make([]byte, 256)
	Transcode(dst, src, PCMU, PCMA)
	for i, b := range dst {
		require.Equal(t, EncodeAlaw(DecodeMulaw(byte(i))), b, "µ-law %#x to A-law", i)
	}
	Transcode(dst, src, PCMA, PCMU)
	for i, b := range dst {
		require.Equal(t, EncodeMulaw(DecodeAlaw(byte(i))), b, "A-law %#x to µ-law", i)
	}
	// In place, and same codec copies.
	inPlace := append([]byte(nil), src...)
	Transcode(inPlace, inPlace, PCMA, PCMU)
	require.Equal(t, dst, inPlace)
	Transcode(dst, src, PCMU, PCMU)
	require.Equal(t, src, dst)
}

func TestEncodeDecode(t *testing.T) {
	pcm := tone(440, 8000, 16000)
	for _, c := range []Codec{PCMU, PCMA} {
		enc := make([]byte, len(pcm))
		Encode(enc, pcm, c)
		dec := make([]int16, len(enc))
		Decode(dec, enc, c)
		for i := range pcm {
			require.LessOrEqual(t, abs(int(dec[i])-int(pcm[i])), 600, "%s sample %d", c, i)
		}
	}
	require.Equal(t, "PCMU", PCMU.String())
	require.Equal(t, "PCMA", PCMA.String())
	require.Equal(t, "codec(9)", Codec(9).String())
	require.Equal(t, uint32(8000), PCMA.ClockRate())
}

func BenchmarkTranscodeFrame(b *testing.B) {
	src := make([]byte, FrameSamples)
	Encode(src, tone(440, 8000, FrameSamples), PCMU)
	dst := make([]byte, FrameSamples)
	b.ReportAllocs()
	b.SetBytes(FrameSamples)
	for b.Loop() {
		Transcode(dst, src, PCMU, PCMA)
	}
}

// Decoded values of every code, from the same reference.
var refMulaw = [256]int16{
	-32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956, -23932, -22908, -21884, -20860, -19836, -18812, -17788, -16764,
	-15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412, -11900, -11388, -10876, -10364, -9852, -9340, -8828, -8316,
	-7932, -7676, -7420, -7164, -6908, -6652, -6396, -6140, -5884, -5628, -5372, -5116, -4860, -4604, -4348, -4092,
	-3900, -3772, -3644, -3516, -3388, -3260, -3132, -3004, -2876, -2748, -2620, -2492, -2364, -2236, -2108, -1980,
	-1884, -1820, -1756, -1692, -1628, -1564, -1500, -1436, -1372, -1308, -1244, -1180, -1116, -1052, -988, -924,
	-876, -844, -812, -780, -748, -716, -684, -652, -620, -588, -556, -524, -492, -460, -428, -396,
	-372, -356, -340, -324, -308, -292, -276, -260, -244, -228, -212, -196, -180, -164, -148, -132,
	-120, -112, -104, -96, -88, -80, -72, -64, -56, -48, -40, -32, -24, -16, -8, 0,
	32124, 31100, 30076, 29052, 28028, 27004, 25980, 24956, 23932, 22908, 21884, 20860, 19836, 18812, 17788, 16764,
	15996, 15484, 14972, 14460, 13948, 13436, 12924, 12412, 11900, 11388, 10876, 10364, 9852, 9340, 8828, 8316,
	7932, 7676, 7420, 7164, 6908, 6652, 6396, 6140, 5884, 5628, 5372, 5116, 4860, 4604, 4348, 4092,
	3900, 3772, 3644, 3516, 3388, 3260, 3132, 3004, 2876, 2748, 2620, 2492, 2364, 2236, 2108, 1980,
	1884, 1820, 1756, 1692, 1628, 1564, 1500, 1436, 1372, 1308, 1244, 1180, 1116, 1052, 988, 924,
	876, 844, 812, 780, 748, 716, 684, 652, 620, 588, 556, 524, 492, 460, 428, 396,
	372, 356, 340, 324, 308, 292, 276, 260, 244, 228, 212, 196, 180, 164, 148, 132,
	120, 112, 104, 96, 88, 80, 72, 64, 56, 48, 40, 32, 24, 16, 8, 0,
}

var refAlaw = [256]int16{
	-5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736, -7552, -7296, -8064, -7808, -6528, -6272, -7040, -6784,
	-2752, -2624, -3008, -2880, -2240, -2112, -2496, -2368, -3776, -3648, -4032, -3904, -3264, -3136, -3520, -3392,
	-22016, -20992, -24064, -23040, -17920, -16896, -19968, -18944, -30208, -29184, -32256, -31232, -26112, -25088, -28160, -27136,
	-11008, -10496, -12032, -11520, -8960, -8448, -9984, -9472, -15104, -14592, -16128, -15616, -13056, -12544, -14080, -13568,
	-344, -328, -376, -360, -280, -264, -312, -296, -472, -456, -504, -488, -408, -392, -440, -424,
	-88, -72, -120, -104, -24, -8, -56, -40, -216, -200, -248, -232, -152, -136, -184, -168,
	-1376, -1312, -1504, -1440, -1120, -1056, -1248, -1184, -1888, -1824, -2016, -1952, -1632, -1568, -1760, -1696,
	-688, -656, -752, -720, -560, -528, -624, -592, -944, -912, -1008, -976, -816, -784, -880, -848,
	5504, 5248, 6016, 5760, 4480, 4224, 4992, 4736, 7552, 7296, 8064, 7808, 6528, 6272, 7040, 6784,
	2752, 2624, 3008, 2880, 2240, 2112, 2496, 2368, 3776, 3648, 4032, 3904, 3264, 3136, 3520, 3392,
	22016, 20992, 24064, 23040, 17920, 16896, 19968, 18944, 30208, 29184, 32256, 31232, 26112, 25088, 28160, 27136,
	11008, 10496, 12032, 11520, 8960, 8448, 9984, 9472, 15104, 14592, 16128, 15616, 13056, 12544, 14080, 13568,
	344, 328, 376, 360, 280, 264, 312, 296, 472, 456, 504, 488, 408, 392, 440, 424,
	88, 72, 120, 104, 24, 8, 56, 40, 216, 200, 248, 232, 152, 136, 184, 168,
	1376, 1312, 1504, 1440, 1120, 1056, 1248, 1184, 1888, 1824, 2016, 1952, 1632, 1568, 1760, 1696,
	688, 656, 752, 720, 560, 528, 624, 592, 944, 912, 1008, 976, 816, 784, 880, 848,
}
