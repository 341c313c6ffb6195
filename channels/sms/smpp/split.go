package smpp

import (
	"fmt"
	"unicode/utf8"
)

// Encoded is a text ready for short messages: its data coding and its
// parts' user data (headers excluded).
type Encoded struct {
	DataCoding byte
	Parts      [][]byte
}

// Limits of one short message (140 octets of user data): 160 unpacked
// GSM 7-bit septets, 70 UCS-2 units; with an 8-bit concatenation header
// (6 octets, plus one fill septet in GSM 7-bit) 153 and 67.
const (
	gsmSingle  = 160
	gsmPart    = 153
	ucs2Single = 140
	ucs2Part   = 134
)

// EncodeText chooses GSM 7-bit when every character has a GSM form (the
// SMSC default, data_coding 0) and UCS-2 otherwise, and splits a long text
// into parts without cutting an escape sequence or a surrogate pair. More
// than maxParts parts is an error.
func EncodeText(s string, maxParts int) (Encoded, error) {
	if !utf8.ValidString(s) {
		return Encoded{}, fmt.Errorf("%w: text is not valid UTF-8", ErrEncode)
	}
	var e Encoded
	if sept, ok := EncodeGSM7(s); ok {
		e = Encoded{DataCoding: CodingDefault, Parts: split(sept, gsmSingle, gsmPart, func(b []byte, i int) bool {
			return i > 0 && b[i-1] == 0x1B // do not leave an escape at the end of a part
		})}
	} else {
		u := EncodeUCS2(s)
		e = Encoded{DataCoding: CodingUCS2, Parts: split(u, ucs2Single, ucs2Part, func(b []byte, i int) bool {
			return i >= 2 && b[i-2]&0xFC == 0xD8 // do not end a part on a high surrogate
		})}
	}
	if len(e.Parts) > maxParts || len(e.Parts) > 255 {
		return Encoded{}, fmt.Errorf("%w: the text needs %d short messages, more than %d", ErrEncode,
			len(e.Parts), min(maxParts, 255))
	}
	return e, nil
}

// split cuts b into one part of at most single octets, or parts of at most
// part octets, moving a cut back while bad(b, cut) says it falls inside a
// character.
func split(b []byte, single, part int, bad func(b []byte, cut int) bool) [][]byte {
	if len(b) <= single {
		return [][]byte{b}
	}
	var out [][]byte
	for len(b) > part {
		cut := part
		for cut > 1 && bad(b, cut) {
			cut--
			if part%2 == 0 && single%2 == 0 && cut%2 != 0 {
				cut-- // UCS-2 cuts stay on unit boundaries
			}
		}
		out = append(out, b[:cut])
		b = b[cut:]
	}
	return append(out, b)
}
