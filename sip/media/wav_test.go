package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// makeWAV builds a RIFF WAVE file: fmt chunk (tag, channels, rate, bits), an unrelated chunk, then data.
func makeWAV(tag, channels uint16, rate uint32, bits uint16, data []byte) []byte {
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(0)) // patched below
	b.WriteString("WAVE")
	b.WriteString("fmt ")
	le(uint32(16))
	le(tag)
	le(channels)
	le(rate)
	le(rate * uint32(channels) * uint32(bits) / 8)
	le(channels * bits / 8)
	le(bits)
	b.WriteString("LIST") // an odd-sized chunk, padded, to skip
	le(uint32(3))
	b.WriteString("abc\x00")
	b.WriteString("data")
	le(uint32(len(data)))
	b.Write(data)
	out := b.Bytes()
	binary.LittleEndian.PutUint32(out[4:8], uint32(len(out)-8))
	return out
}

func pcm16Bytes(pcm []int16) []byte {
	b := make([]byte, 2*len(pcm))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	return b
}

func TestReadWAV(t *testing.T) {
	pcm := tone(440, 8000, 1000)
	mu := make([]byte, len(pcm))
	Encode(mu, pcm, PCMU)
	al := make([]byte, len(pcm))
	Encode(al, pcm, PCMA)
	muWant, alWant := make([]int16, len(pcm)), make([]int16, len(pcm))
	Decode(muWant, mu, PCMU)
	Decode(alWant, al, PCMA)

	for name, tc := range map[string]struct {
		file []byte
		want []int16
	}{
		"16-bit": {makeWAV(1, 1, 8000, 16, pcm16Bytes(pcm)), pcm},
		"µ-law":  {makeWAV(7, 1, 8000, 8, mu), muWant},
		"A-law":  {makeWAV(6, 1, 8000, 8, al), alWant},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ReadWAV(bytes.NewReader(tc.file))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestReadWAVRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		file []byte
		want string
	}{
		"stereo 44.1k": {makeWAV(1, 2, 44100, 16, make([]byte, 8)), "44100 Hz stereo: want 8000 Hz mono"},
		"16 kHz":       {makeWAV(1, 1, 16000, 16, make([]byte, 8)), "16000 Hz mono: want 8000 Hz mono"},
		"8-bit PCM":    {makeWAV(1, 1, 8000, 8, make([]byte, 8)), "8-bit PCM: want 16-bit PCM"},
		"float":        {makeWAV(3, 1, 8000, 32, make([]byte, 8)), "floating-point samples"},
		"6 channels":   {makeWAV(7, 6, 8000, 8, make([]byte, 8)), "8000 Hz 6 channels"},
		"odd data":     {makeWAV(1, 1, 8000, 16, make([]byte, 3)), "odd length 3"},
		"not RIFF":     {[]byte("ID3\x04 some mp3"), "not a RIFF WAVE file"},
		"no data":      {makeWAV(1, 1, 8000, 16, nil)[:44-8], "no data chunk"},
		"truncated": {func() []byte {
			f := makeWAV(1, 1, 8000, 16, make([]byte, 100))
			return f[:len(f)-10]
		}(), `"data" chunk says 100 bytes, file has 90`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ReadWAV(bytes.NewReader(tc.file))
			require.ErrorIs(t, err, ErrBadWAV)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestLoadClip(t *testing.T) {
	pcm := tone(440, 8000, 3*FrameSamples+10)
	path := filepath.Join(t.TempDir(), "hello.wav")
	require.NoError(t, os.WriteFile(path, makeWAV(1, 1, 8000, 16, pcm16Bytes(pcm)), 0o600))
	c, err := LoadClip(path)
	require.NoError(t, err)
	require.Equal(t, 4, c.Frames())
	require.Equal(t, 80*1e6, float64(c.Duration()))
	last := c.Frame(3, PCMA)
	require.Len(t, last, FrameSamples)
	for _, b := range last[10:] {
		require.Equal(t, EncodeAlaw(0), b, "padding is silence")
	}
	require.Equal(t, EncodeMulaw(pcm[FrameSamples+5]), c.Frame(1, PCMU)[5])

	both := Concat("both", c, nil, NewClip("x", tone(1000, 8000, 1)))
	require.Equal(t, 5, both.Frames())
	require.Equal(t, c.Frame(2, PCMU), both.Frame(2, PCMU))

	_, err = LoadClip(filepath.Join(t.TempDir(), "missing.wav"))
	require.ErrorIs(t, err, os.ErrNotExist)
	bad := filepath.Join(t.TempDir(), "stereo.wav")
	require.NoError(t, os.WriteFile(bad, makeWAV(1, 2, 8000, 16, nil), 0o600))
	_, err = LoadClip(bad)
	require.ErrorContains(t, err, "stereo.wav: media: bad WAV: 8000 Hz stereo: want 8000 Hz mono")
}

func FuzzReadWAV(f *testing.F) {
	f.Add(makeWAV(1, 1, 8000, 16, pcm16Bytes(tone(440, 8000, 20))))
	f.Add(makeWAV(7, 1, 8000, 8, []byte{1, 2, 3}))
	f.Add(makeWAV(6, 1, 8000, 8, nil))
	f.Add(makeWAV(1, 2, 44100, 16, []byte{1, 2, 3, 4}))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pcm, err := ReadWAV(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrBadWAV) {
				t.Fatalf("error %v does not wrap ErrBadWAV", err)
			}
			if pcm != nil {
				t.Fatalf("samples returned with error %v", err)
			}
			return
		}
		// Accepted: find the data chunk the way the format says, and check the samples' count against it.
		f, size := wavFacts(t, b)
		want := int(size)
		if f == 1 {
			want /= 2
		}
		if len(pcm) != want {
			t.Fatalf("%d samples from a data chunk of %d bytes (format %d)", len(pcm), size, f)
		}
	})
}

// wavFacts independently walks an accepted file's chunks to its format tag and data chunk size.
func wavFacts(t *testing.T, b []byte) (tag uint16, dataSize uint32) {
	t.Helper()
	b = b[12:]
	for len(b) >= 8 {
		id, size := string(b[:4]), binary.LittleEndian.Uint32(b[4:8])
		body := b[8 : 8+size]
		switch id {
		case "fmt ":
			tag = binary.LittleEndian.Uint16(body)
			if tag == 0xFFFE {
				tag = binary.LittleEndian.Uint16(body[24:])
			}
		case "data":
			return tag, size
		}
		b = b[min(len(b), 8+int(size)+int(size%2)):]
	}
	t.Fatal("accepted a file without a data chunk")
	return 0, 0
}
