package smpp

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestDecodeAlphabets(t *testing.T) {
	gbk, ok := EncodeGBK("噪音扰民，请处理")
	require.True(t, ok)
	cases := []struct {
		name string
		dc   byte
		def  Alphabet
		in   []byte
		want string
	}{
		{"gsm7 basic", 0x00, AlphabetGSM7, []byte{0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x20, 0x00, 0x01, 0x02}, "Hello @£$"},
		{"gsm7 extension", 0x00, AlphabetGSM7, []byte{0x1B, 0x65, 0x31, 0x30, 0x1B, 0x3C, 0x1B, 0x3E}, "€10[]"},
		{"gsm7 unknown escape shows base", 0x00, AlphabetGSM7, []byte{0x1B, 0x41}, "A"},
		{"gsm7 trailing escape", 0x00, AlphabetGSM7, []byte{0x41, 0x1B}, "A "},
		{"gsm7 class group", 0xF0, AlphabetGSM7, []byte{0x41}, "A"},
		{"default as latin1", 0x00, AlphabetLatin1, []byte{0xE9, 0x74, 0xE9}, "été"},
		{"ia5", 0x01, AlphabetGSM7, []byte("Road lamp broken"), "Road lamp broken"},
		{"latin1", 0x03, AlphabetGSM7, []byte{0x63, 0x61, 0x66, 0xE9}, "café"},
		{"ucs2", 0x08, AlphabetGSM7, EncodeUCS2("路灯坏了"), "路灯坏了"},
		{"ucs2 emoji", 0x08, AlphabetGSM7, []byte{0xD8, 0x3D, 0xDE, 0x00}, "😀"},
		{"ucs2 lone surrogate", 0x08, AlphabetGSM7, []byte{0xD8, 0x3D, 0x00, 0x41}, "\uFFFDA"},
		{"gbk", 0x0F, AlphabetGSM7, gbk, "噪音扰民，请处理"},
		{"gbk broken pair", 0x0F, AlphabetGSM7, gbk[:3], "噪\uFFFD"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(c.dc, c.def, c.in)
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
	for _, bad := range []struct {
		dc   byte
		in   []byte
		want string
	}{
		{0x00, []byte{0x80}, "GSM 7-bit: octet 0 is 0x80"},
		{0x01, []byte{'a', 0xC3}, "IA5 (data_coding 0x01): octet 1"},
		{0x08, []byte{0, 0x41, 0}, "UCS-2 (data_coding 0x08): 3 octets is odd"},
		{0x04, []byte{1, 2}, "data_coding 0x04 is not a text alphabet"},
	} {
		_, err := Decode(bad.dc, AlphabetGSM7, bad.in)
		require.ErrorContains(t, err, bad.want)
	}
}

func TestPackUnpack7(t *testing.T) {
	// "hellohello" packed, the classic example of TS 23.038.
	sept, ok := EncodeGSM7("hellohello")
	require.True(t, ok)
	packed := Pack7(sept, 0)
	require.Equal(t, []byte{0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37}, packed)
	got, err := Unpack7(packed, 0, len(sept))
	require.NoError(t, err)
	require.Equal(t, sept, got)
	_, err = Unpack7(packed, 0, 11)
	require.Error(t, err)
}

// FuzzText: decode(encode(x)) == x for the encoders; any bytes decode to
// valid UTF-8 or fail with an error, in every data coding.
func FuzzText(f *testing.F) {
	f.Add("Hello €[]{}", []byte{0x1B, 0x65}, byte(0))
	f.Add("路灯坏了😀", []byte{0xD8, 0x3D}, byte(8))
	f.Add("噪音扰民", []byte{0xB0}, byte(15))
	f.Fuzz(func(t *testing.T, s string, raw []byte, dc byte) {
		for _, def := range []Alphabet{AlphabetGSM7, AlphabetASCII, AlphabetLatin1} {
			out, err := Decode(dc, def, raw)
			if err == nil && !utf8.ValidString(out) {
				t.Fatalf("dc 0x%02X: invalid UTF-8 %q", dc, out)
			}
		}
		if !utf8.ValidString(s) {
			return
		}
		if sept, ok := EncodeGSM7(s); ok {
			got, err := DecodeGSM7(sept)
			require.NoError(t, err)
			require.Equal(t, s, got)
			for fill := 0; fill < 7; fill++ {
				un, err := Unpack7(Pack7(sept, fill), fill, len(sept))
				require.NoError(t, err)
				require.Equal(t, sept, un)
			}
		}
		if !bytes.ContainsRune([]byte(s), utf8.RuneError) && !containsSurrogate(s) {
			got, err := DecodeUCS2(EncodeUCS2(s))
			require.NoError(t, err)
			require.Equal(t, s, got)
		}
		if g, ok := EncodeGBK(s); ok {
			got, err := Decode(CodingGBK, AlphabetGSM7, g)
			require.NoError(t, err)
			require.Equal(t, s, got)
		}
	})
}

func containsSurrogate(s string) bool {
	for _, r := range s {
		if r >= 0xD800 && r <= 0xDFFF {
			return true
		}
	}
	return false
}
