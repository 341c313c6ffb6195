package configs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// The prompts' tests read WAV themselves: a small RIFF reader for what
// telephony prompts are (8 kHz mono PCM 16-bit, A-law, µ-law).

// WAVE format tags.
const (
	wavPCM        = 1
	wavALaw       = 6
	wavMuLaw      = 7
	wavExtensible = 0xFFFE
)

type wavInfo struct {
	Format     uint16 // the tag, or the sub-format's for WAVE_FORMAT_EXTENSIBLE
	Channels   uint16
	Rate       uint32
	Bits       uint16
	BlockAlign uint16
	Data       []byte // the samples, a sub-slice of the input
}

var errWAV = errors.New("not a WAV file")

func wavErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errWAV, fmt.Sprintf(format, args...))
}

// parseWAV reads a RIFF/WAVE file: the fmt chunk and the data chunk, in
// any order among other chunks (fact, LIST), each padded to an even size.
func parseWAV(b []byte) (wavInfo, error) {
	var w wavInfo
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return w, wavErr("no RIFF/WAVE header")
	}
	if size := binary.LittleEndian.Uint32(b[4:8]); uint64(size)+8 > uint64(len(b)) {
		return w, wavErr("RIFF size %d beyond the file's %d bytes", size, len(b))
	}
	var haveFmt, haveData bool
	for rest := b[12:]; len(rest) >= 8; {
		id, size := string(rest[0:4]), binary.LittleEndian.Uint32(rest[4:8])
		rest = rest[8:]
		if uint64(size) > uint64(len(rest)) {
			return w, wavErr("chunk %q of %d bytes beyond the end", id, size)
		}
		body := rest[:size]
		skip := int(size) + int(size&1)
		rest = rest[min(skip, len(rest)):]
		switch id {
		case "fmt ":
			if haveFmt || size < 16 {
				return w, wavErr("fmt chunk repeated or shorter than 16 bytes")
			}
			haveFmt = true
			w.Format = binary.LittleEndian.Uint16(body[0:2])
			w.Channels = binary.LittleEndian.Uint16(body[2:4])
			w.Rate = binary.LittleEndian.Uint32(body[4:8])
			w.BlockAlign = binary.LittleEndian.Uint16(body[12:14])
			w.Bits = binary.LittleEndian.Uint16(body[14:16])
			if w.Format == wavExtensible {
				if size < 40 {
					return w, wavErr("extensible fmt chunk shorter than 40 bytes")
				}
				w.Format = binary.LittleEndian.Uint16(body[24:26])
			}
		case "data":
			if !haveFmt || haveData {
				return w, wavErr("data chunk before fmt, or repeated")
			}
			haveData = true
			w.Data = body
		}
	}
	if !haveData {
		return w, wavErr("no data chunk")
	}
	want := map[uint16]uint16{wavPCM: 16, wavALaw: 8, wavMuLaw: 8}[w.Format]
	switch {
	case want == 0:
		return w, wavErr("format %d: want PCM (1), A-law (6) or µ-law (7)", w.Format)
	case w.Bits != want:
		return w, wavErr("format %d with %d bits: want %d", w.Format, w.Bits, want)
	case w.Channels == 0 || w.BlockAlign != w.Channels*w.Bits/8:
		return w, wavErr("block align %d for %d channels of %d bits", w.BlockAlign, w.Channels, w.Bits)
	case len(w.Data)%int(w.BlockAlign) != 0:
		return w, wavErr("data of %d bytes is not whole frames of %d", len(w.Data), w.BlockAlign)
	}
	return w, nil
}

// samples decodes the data to linear 16-bit samples.
func (w wavInfo) samples() []int16 {
	switch w.Format {
	case wavPCM:
		out := make([]int16, len(w.Data)/2)
		for i := range out {
			out[i] = int16(binary.LittleEndian.Uint16(w.Data[2*i:]))
		}
		return out
	case wavMuLaw:
		out := make([]int16, len(w.Data))
		for i, b := range w.Data {
			out[i] = ulawToLinear(b)
		}
		return out
	default:
		out := make([]int16, len(w.Data))
		for i, b := range w.Data {
			out[i] = alawToLinear(b)
		}
		return out
	}
}

func (w wavInfo) seconds() float64 {
	return float64(len(w.Data)/int(w.BlockAlign)) / float64(w.Rate)
}

// ulawToLinear is G.711 µ-law expansion.
func ulawToLinear(u byte) int16 {
	u = ^u
	t := (int(u&0x0F) << 3) + 0x84
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

// alawToLinear is G.711 A-law expansion.
func alawToLinear(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0F) << 4
	switch seg := (a & 0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// soundLevels returns the RMS and peak of the samples in dBFS.
func soundLevels(s []int16) (rms, peak float64) {
	var sum float64
	var pk int
	for _, v := range s {
		x := int(v)
		sum += float64(x * x)
		pk = max(pk, x, -x)
	}
	if len(s) == 0 {
		return math.Inf(-1), math.Inf(-1)
	}
	return 20 * math.Log10(math.Sqrt(sum/float64(len(s)))/32768), 20 * math.Log10(float64(pk)/32768)
}

// makeWAV writes a WAV the way sox does (fmt of 18 bytes, a fact chunk for
// G.711), for the reader's tests.
func makeWAV(format, channels uint16, rate uint32, data []byte, extra []byte) []byte {
	bits := uint16(8)
	if format == wavPCM {
		bits = 16
	}
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(0))
	b.WriteString("WAVE")
	if len(extra) > 0 { // an unknown chunk of odd size first, padded
		b.WriteString("LIST")
		le(uint32(len(extra)))
		b.Write(extra)
		if len(extra)%2 == 1 {
			b.WriteByte(0)
		}
	}
	b.WriteString("fmt ")
	le(uint32(18))
	le(format)
	le(channels)
	le(rate)
	le(rate * uint32(channels*bits/8))
	le(channels * bits / 8)
	le(bits)
	le(uint16(0))
	if format != wavPCM {
		b.WriteString("fact")
		le(uint32(4))
		le(uint32(len(data) / int(channels)))
	}
	b.WriteString("data")
	le(uint32(len(data)))
	b.Write(data)
	if len(data)%2 == 1 {
		b.WriteByte(0)
	}
	out := b.Bytes()
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

func TestParseWAV(t *testing.T) {
	ok := makeWAV(wavMuLaw, 1, 8000, []byte{0xFF, 0x00, 0x80}, []byte("abc"))
	w, err := parseWAV(ok)
	require.NoError(t, err)
	require.Equal(t, wavInfo{Format: wavMuLaw, Channels: 1, Rate: 8000, Bits: 8, BlockAlign: 1, Data: []byte{0xFF, 0x00, 0x80}}, w)
	require.Equal(t, []int16{0, -32124, 32124}, w.samples(), "µ-law silence and both extremes")

	noData := makeWAV(wavMuLaw, 1, 8000, nil, nil)
	noData = noData[:bytes.Index(noData, []byte("data"))]
	binary.LittleEndian.PutUint32(noData[4:], uint32(len(noData)-8))
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no RIFF/WAVE header"},
		{"truncated", ok[:len(ok)-2], "beyond"},
		{"no data", noData, "no data chunk"},
		{"mp3", makeWAV(0x55, 1, 8000, []byte{1, 2}, nil), "format 85"},
		{"pcm odd bytes", makeWAV(wavPCM, 1, 8000, []byte{1, 2, 3}, nil), "not whole frames"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseWAV(tc.data)
			require.ErrorIs(t, err, errWAV)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestG711Expansion(t *testing.T) {
	// Both tables are odd-symmetric and monotonic over their 128 magnitudes.
	prevU, prevA := int16(-1), int16(-1)
	for i := range 128 {
		u := ulawToLinear(byte(0xFF - i)) // µ-law: 0xFF is +0, 0x80 is the largest
		require.Equal(t, -u, ulawToLinear(byte(0x7F-i)))
		require.Greater(t, u, prevU)
		a := alawToLinear(byte(i) ^ 0xD5) // A-law: 0xD5 is the smallest positive
		require.Equal(t, -a, alawToLinear(byte(i)^0x55))
		require.Greater(t, a, prevA)
		prevU, prevA = u, a
	}
	require.Equal(t, int16(32124), prevU)
	require.Equal(t, int16(32256), prevA)
}

// FuzzParseWAV: whatever the bytes, parseWAV neither panics nor returns
// data outside the input or a format it does not accept; a file written by
// makeWAV reads back exactly.
func FuzzParseWAV(f *testing.F) {
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"), uint16(wavMuLaw), []byte{1, 2, 3}, []byte("x"))
	f.Add(makeWAV(wavPCM, 1, 8000, []byte{0, 1}, nil), uint16(wavPCM), []byte{0, 1, 2, 3}, []byte(nil))
	f.Add(makeWAV(wavALaw, 2, 16000, []byte{0, 1, 2, 3}, []byte("xy")), uint16(wavALaw), []byte{9}, []byte("odd"))
	f.Fuzz(func(t *testing.T, raw []byte, format uint16, data, extra []byte) {
		if w, err := parseWAV(raw); err == nil {
			require.Contains(t, []uint16{wavPCM, wavALaw, wavMuLaw}, w.Format)
			require.LessOrEqual(t, len(w.Data), len(raw))
			require.True(t, bytes.Contains(raw, w.Data), "data is a slice of the input")
			require.Zero(t, len(w.Data)%int(w.BlockAlign))
		} else {
			require.ErrorIs(t, err, errWAV)
		}
		format = []uint16{wavPCM, wavALaw, wavMuLaw}[int(format)%3]
		if format == wavPCM {
			data = data[:len(data)&^1]
		}
		w, err := parseWAV(makeWAV(format, 1, 8000, data, extra))
		require.NoError(t, err)
		require.Equal(t, format, w.Format)
		require.Equal(t, uint32(8000), w.Rate)
		require.Equal(t, len(data), len(w.Data))
		if len(data) > 0 {
			require.Equal(t, data, w.Data)
		}
	})
}
