package smpp

import (
	"fmt"
	"strings"
)

// The GSM 03.38 default alphabet (3GPP TS 23.038, 6.2.1), by septet value.
// 0x1B is the escape to the extension table.
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExt is the default extension table (6.2.1.1): septet after 0x1B → rune.
var gsmExt = map[byte]rune{0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\', 0x3C: '[', 0x3D: '~',
	0x3E: ']', 0x40: '|', 0x65: '€'}

var (
	gsmDecode [128]rune
	gsmEncode = map[rune]byte{}
	gsmExtEnc = map[rune]byte{}
)

func init() {
	i := 0
	for _, r := range gsmBasic {
		gsmDecode[i] = r
		if i != 0x1B {
			gsmEncode[r] = byte(i)
		}
		i++
	}
	if i != 128 {
		panic(fmt.Sprintf("smpp: GSM table has %d entries", i))
	}
	for k, r := range gsmExt {
		gsmExtEnc[r] = k
	}
}

// DecodeGSM7 decodes unpacked GSM 7-bit septets (one per octet, as SMPP
// carries them). An escape followed by a septet the extension table lacks
// shows the default table's character, as TS 23.038 asks; a trailing lone
// escape shows a space.
func DecodeGSM7(b []byte) (string, error) {
	var sb strings.Builder
	sb.Grow(len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c > 0x7F {
			return "", fmt.Errorf("%w: GSM 7-bit: octet %d is 0x%02X, above 0x7F", ErrText, i, c)
		}
		if c != 0x1B {
			sb.WriteRune(gsmDecode[c])
			continue
		}
		if i+1 == len(b) {
			sb.WriteByte(' ')
			break
		}
		i++
		n := b[i]
		if n > 0x7F {
			return "", fmt.Errorf("%w: GSM 7-bit: octet %d is 0x%02X, above 0x7F", ErrText, i, n)
		}
		if r, ok := gsmExt[n]; ok {
			sb.WriteRune(r)
		} else if n == 0x1B {
			sb.WriteByte(' ')
			i--
		} else {
			sb.WriteRune(gsmDecode[n])
		}
	}
	return sb.String(), nil
}

// EncodeGSM7 encodes s as unpacked GSM 7-bit septets; ok is false when a
// character has no GSM 7-bit form.
func EncodeGSM7(s string) (septets []byte, ok bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if c, ok := gsmEncode[r]; ok {
			out = append(out, c)
		} else if c, ok := gsmExtEnc[r]; ok {
			out = append(out, 0x1B, c)
		} else {
			return nil, false
		}
	}
	return out, true
}

// Pack7 packs septets into octets, after fill bits of padding (the bits
// that align septets after a user data header, 0–6).
func Pack7(septets []byte, fill int) []byte {
	bits := fill + 7*len(septets)
	out := make([]byte, (bits+7)/8)
	pos := fill
	for _, s := range septets {
		s &= 0x7F
		out[pos/8] |= s << (pos % 8)
		if pos%8 > 1 {
			out[pos/8+1] |= s >> (8 - pos%8)
		}
		pos += 7
	}
	return out
}

// Unpack7 unpacks n septets from packed octets that start with fill bits
// of padding.
func Unpack7(b []byte, fill, n int) ([]byte, error) {
	if fill < 0 || fill > 6 || n < 0 || fill+7*n > 8*len(b) {
		return nil, fmt.Errorf("%w: GSM 7-bit packed: %d septets after %d fill bits need more than %d octets",
			ErrText, n, fill, len(b))
	}
	out := make([]byte, n)
	pos := fill
	for i := range out {
		v := uint16(b[pos/8])
		if pos/8+1 < len(b) {
			v |= uint16(b[pos/8+1]) << 8
		}
		out[i] = byte(v>>(pos%8)) & 0x7F
		pos += 7
	}
	return out, nil
}
