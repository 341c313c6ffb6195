package media

import (
	"math/bits"
	"strconv"
)

// Codec is an audio codec, numbered by its static RTP payload type (RFC 3551).
type Codec uint8

// The G.711 codecs.
const (
	PCMU Codec = 0 // G.711 µ-law
	PCMA Codec = 8 // G.711 A-law
)

// FrameSamples is the number of samples (and G.711 bytes) in 20 ms at 8 kHz: one RTP packet's payload.
const FrameSamples = 160

// String returns the codec's SDP encoding name ("PCMU", "PCMA").
func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return "codec(" + strconv.Itoa(int(c)) + ")"
}

// ClockRate is the RTP clock rate of the codec: 8000 for G.711.
func (c Codec) ClockRate() uint32 { return 8000 }

// PayloadType is the codec's static RTP payload type.
func (c Codec) PayloadType() uint8 { return uint8(c) }

// Valid reports whether c is a codec this package encodes (PCMU or PCMA).
func (c Codec) Valid() bool { return c == PCMU || c == PCMA }

const (
	mulawBias = 0x84 // in 16-bit units; 33 in the 14-bit units G.711 µ-law is defined on
	mulawClip = 8159 // largest 14-bit magnitude
)

// EncodeMulaw encodes one 16-bit linear sample as G.711 µ-law (on its top 14 bits, as the standard defines it).
func EncodeMulaw(s int16) byte {
	x := int(s) >> 2
	mask := byte(0xFF)
	if x < 0 {
		x, mask = -x, 0x7F
	}
	x = min(x, mulawClip) + mulawBias>>2
	seg := bits.Len(uint(x >> 6)) // 0..7: x is in [33, 8192]
	if seg > 7 {
		return 0x7F ^ mask
	}
	return (byte(seg<<4) | byte(x>>(seg+1))&0x0F) ^ mask
}

// DecodeMulaw decodes one G.711 µ-law byte to a 16-bit linear sample.
func DecodeMulaw(b byte) int16 { return mulawToLinear[b] }

// EncodeAlaw encodes one 16-bit linear sample as G.711 A-law.
func EncodeAlaw(s int16) byte {
	x := int(s)
	mask := byte(0xD5)
	if x < 0 {
		mask = 0x55
		x = -x - 1
	}
	x >>= 3 // 12-bit magnitude, 0..4095
	var out byte
	if x < 32 {
		out = byte(x >> 1)
	} else {
		seg := bits.Len(uint(x >> 5)) // 1..7
		out = byte(seg<<4) | byte(x>>seg)&0x0F
	}
	return out ^ mask
}

// DecodeAlaw decodes one G.711 A-law byte to a 16-bit linear sample.
func DecodeAlaw(b byte) int16 { return alawToLinear[b] }

func decodeMulaw(b byte) int16 {
	b = ^b
	exp := (b >> 4) & 7
	x := ((int(b&0x0F) << 3) + mulawBias) << exp
	x -= mulawBias
	if b&0x80 != 0 {
		return int16(-x)
	}
	return int16(x)
}

func decodeAlaw(b byte) int16 {
	b ^= 0x55
	x := int(b&0x0F) << 4
	seg := (b & 0x70) >> 4
	switch seg {
	case 0:
		x += 8
	default:
		x = (x + 0x108) << (seg - 1)
	}
	if b&0x80 != 0 {
		return int16(x)
	}
	return int16(-x)
}

var (
	mulawToLinear [256]int16
	alawToLinear  [256]int16
	mulawToAlaw   [256]byte
	alawToMulaw   [256]byte
)

func init() {
	for i := range 256 {
		mulawToLinear[i] = decodeMulaw(byte(i))
		alawToLinear[i] = decodeAlaw(byte(i))
	}
	for i := range 256 {
		mulawToAlaw[i] = EncodeAlaw(mulawToLinear[i])
		alawToMulaw[i] = EncodeMulaw(alawToLinear[i])
	}
}

// Transcode converts G.711 bytes from one codec to the other by a 256-entry table. dst must be at least len(src)
// long and may be src itself; from == to copies. A codec other than PCMU or PCMA copies too.
func Transcode(dst, src []byte, from, to Codec) {
	var table *[256]byte
	switch {
	case from == PCMU && to == PCMA:
		table = &mulawToAlaw
	case from == PCMA && to == PCMU:
		table = &alawToMulaw
	default:
		copy(dst, src)
		return
	}
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = table[b]
	}
}

// Encode encodes pcm into dst (len(dst) >= len(pcm)) with codec c (PCMA, or µ-law for anything else).
func Encode(dst []byte, pcm []int16, c Codec) {
	dst = dst[:len(pcm)]
	if c == PCMA {
		for i, s := range pcm {
			dst[i] = EncodeAlaw(s)
		}
		return
	}
	for i, s := range pcm {
		dst[i] = EncodeMulaw(s)
	}
}

// Decode decodes src into dst (len(dst) >= len(src)) with codec c (PCMA, or µ-law for anything else).
func Decode(dst []int16, src []byte, c Codec) {
	table := &mulawToLinear
	if c == PCMA {
		table = &alawToLinear
	}
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = table[b]
	}
}

// silence returns the codec's encoding of a zero sample.
func silence(c Codec) byte {
	if c == PCMA {
		return EncodeAlaw(0)
	}
	return EncodeMulaw(0)
}
