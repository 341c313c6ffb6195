package smpp

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Data codings (SMPP 3.4, 5.2.19) this package decodes. 0x0F is KS C 5601
// in the specification but GBK on Chinese SMS centres (CMPP Msg_Fmt 15),
// which is what a 12345 hotline meets.
const (
	CodingDefault byte = 0x00 // SMSC default alphabet: GSM 7-bit unless configured
	CodingIA5     byte = 0x01 // IA5 / ASCII
	CodingBinary  byte = 0x02 // 8-bit binary
	CodingLatin1  byte = 0x03 // ISO-8859-1
	CodingBinary2 byte = 0x04 // 8-bit binary
	CodingUCS2    byte = 0x08 // UCS-2, read as UTF-16BE
	CodingGBK     byte = 0x0F // GBK (China)
)

// Alphabet is what data_coding 0 means on a given SMS centre.
type Alphabet string

// SMSC default alphabets.
const (
	AlphabetGSM7   Alphabet = "gsm7"
	AlphabetASCII  Alphabet = "ascii"
	AlphabetLatin1 Alphabet = "latin1"
)

// Valid reports whether a is a known alphabet.
func (a Alphabet) Valid() bool {
	return a == AlphabetGSM7 || a == AlphabetASCII || a == AlphabetLatin1
}

// Decode turns user data (without its user data header) in data coding dc
// into text; def says what dc 0 means. Code points a charset cannot map
// (an unpaired surrogate, a broken GBK pair) become U+FFFD; bytes that the
// charset cannot hold at all are an error naming the data_coding.
func Decode(dc byte, def Alphabet, b []byte) (string, error) {
	switch {
	case dc == CodingDefault:
		switch def {
		case AlphabetASCII:
			return decodeIA5(b)
		case AlphabetLatin1:
			return decodeLatin1(b), nil
		}
		return DecodeGSM7(b)
	case dc == CodingIA5:
		return decodeIA5(b)
	case dc == CodingLatin1:
		return decodeLatin1(b), nil
	case dc == CodingUCS2:
		return DecodeUCS2(b)
	case dc == CodingGBK:
		return decodeGBK(b)
	case dc&0xF0 == 0xF0 && dc&0x04 == 0:
		return DecodeGSM7(b) // data coding / message class group, default alphabet
	case dc&0xC0 == 0 && dc&0x20 == 0 && dc&0x0C == 0x08:
		return DecodeUCS2(b) // general data coding group, uncompressed UCS-2 with a class
	case dc&0xC0 == 0 && dc&0x20 == 0 && dc&0x0C == 0x00 && dc&0x10 != 0:
		return DecodeGSM7(b) // general data coding group, default alphabet with a class
	}
	return "", fmt.Errorf("%w: data_coding 0x%02X is not a text alphabet this gateway reads", ErrText, dc)
}

func decodeIA5(b []byte) (string, error) {
	for i, c := range b {
		if c > 0x7F {
			return "", fmt.Errorf("%w: IA5 (data_coding 0x01): octet %d is 0x%02X, above 0x7F", ErrText, i, c)
		}
	}
	return string(b), nil
}

func decodeLatin1(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// DecodeUCS2 decodes UTF-16BE (UCS-2 plus surrogate pairs, as handsets send
// emoji).
func DecodeUCS2(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("%w: UCS-2 (data_coding 0x08): %d octets is odd", ErrText, len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(u)), nil
}

// EncodeUCS2 encodes s as UTF-16BE.
func EncodeUCS2(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 2*len(u))
	for i, c := range u {
		out[2*i], out[2*i+1] = byte(c>>8), byte(c)
	}
	return out
}

func decodeGBK(b []byte) (string, error) {
	out, err := simplifiedchinese.GBK.NewDecoder().Bytes(b)
	if err != nil {
		return "", fmt.Errorf("%w: GBK (data_coding 0x0F): %v", ErrText, err)
	}
	if !utf8.Valid(out) {
		return strings.ToValidUTF8(string(out), "\uFFFD"), nil
	}
	return string(out), nil
}

// EncodeGBK encodes s as GBK; ok is false when a character has no GBK form.
func EncodeGBK(s string) ([]byte, bool) {
	out, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	return out, err == nil
}
