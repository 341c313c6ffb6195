package siptest

// G.711 µ-law and A-law, kept inside siptest so the test harness depends on no
// package it is meant to test. Tables are built once; encoding is by formula.

var (
	ulawTable [256]int16
	alawTable [256]int16
)

func init() {
	for i := range 256 {
		ulawTable[i] = ulawDecode(byte(i))
		alawTable[i] = alawDecode(byte(i))
	}
}

// ULawToPCM decodes G.711 µ-law (RTP payload type 0) to 16-bit linear PCM.
func ULawToPCM(b []byte) []int16 {
	out := make([]int16, len(b))
	for i, c := range b {
		out[i] = ulawTable[c]
	}
	return out
}

// ALawToPCM decodes G.711 A-law (RTP payload type 8) to 16-bit linear PCM.
func ALawToPCM(b []byte) []int16 {
	out := make([]int16, len(b))
	for i, c := range b {
		out[i] = alawTable[c]
	}
	return out
}

// PCMToULaw encodes 16-bit linear PCM as G.711 µ-law.
func PCMToULaw(pcm []int16) []byte {
	out := make([]byte, len(pcm))
	for i, s := range pcm {
		out[i] = ulawEncode(s)
	}
	return out
}

// PCMToALaw encodes 16-bit linear PCM as G.711 A-law.
func PCMToALaw(pcm []int16) []byte {
	out := make([]byte, len(pcm))
	for i, s := range pcm {
		out[i] = alawEncode(s)
	}
	return out
}

const (
	ulawBias = 0x84
	ulawClip = 32635
)

func ulawEncode(s int16) byte {
	v := int32(s)
	var sign byte
	if v < 0 {
		sign = 0x80
		v = -v
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias
	exp := byte(7)
	for mask := int32(0x4000); v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := byte(v>>(exp+3)) & 0x0f
	return ^(sign | exp<<4 | mant)
}

func ulawDecode(u byte) int16 {
	u = ^u
	exp := (u >> 4) & 0x07
	mant := int32(u & 0x0f)
	v := ((mant << 3) + ulawBias) << exp
	v -= ulawBias
	if u&0x80 != 0 {
		return int16(-v)
	}
	return int16(v)
}

func alawEncode(s int16) byte {
	v := int32(s) >> 3 // A-law works on 13-bit magnitudes
	sign := byte(0x80)
	if v < 0 {
		sign = 0
		v = -v - 1
	}
	if v > 0xfff {
		v = 0xfff
	}
	var out byte
	if v < 32 {
		out = byte(v >> 1)
	} else {
		exp := byte(1)
		for t := v >> 5; t > 1; t >>= 1 {
			exp++
		}
		out = exp<<4 | byte(v>>exp)&0x0f
	}
	return (out | sign) ^ 0x55
}

func alawDecode(a byte) int16 {
	a ^= 0x55
	exp := (a >> 4) & 0x07
	mant := int32(a & 0x0f)
	var v int32
	if exp == 0 {
		v = mant<<4 + 8
	} else {
		v = (mant<<4 + 0x108) << (exp - 1)
	}
	if a&0x80 != 0 {
		return int16(v)
	}
	return int16(-v)
}
