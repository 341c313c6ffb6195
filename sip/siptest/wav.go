package siptest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// WAV holds 16-bit linear PCM audio read from or written to a WAV file.
type WAV struct {
	Rate     int
	Channels int
	Samples  []int16 // interleaved when Channels > 1
}

// ReadWAV reads a 16-bit PCM WAV file. A data chunk whose size is 0 or runs past
// the end of the file (a writer killed before it closed the file) is taken to
// extend to the end of the file.
func ReadWAV(path string) (WAV, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return WAV{}, err
	}
	w, err := ParseWAV(b)
	if err != nil {
		return WAV{}, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// ParseWAV parses the bytes of a 16-bit PCM WAV file (see ReadWAV).
func ParseWAV(b []byte) (WAV, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return WAV{}, errors.New("not a RIFF/WAVE file")
	}
	var w WAV
	haveFmt := false
	for off := 12; off+8 <= len(b); {
		id := string(b[off : off+4])
		size := int(binary.LittleEndian.Uint32(b[off+4 : off+8]))
		body := b[off+8:]
		switch id {
		case "fmt ":
			if size < 16 || len(body) < 16 {
				return WAV{}, errors.New("short fmt chunk")
			}
			format := binary.LittleEndian.Uint16(body[0:2])
			w.Channels = int(binary.LittleEndian.Uint16(body[2:4]))
			w.Rate = int(binary.LittleEndian.Uint32(body[4:8]))
			bits := binary.LittleEndian.Uint16(body[14:16])
			if (format != 1 && format != 0xfffe) || bits != 16 {
				return WAV{}, fmt.Errorf("format %d with %d bits per sample: only 16-bit PCM is read", format, bits)
			}
			if w.Channels < 1 {
				return WAV{}, errors.New("no channels")
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return WAV{}, errors.New("data chunk before fmt chunk")
			}
			if size == 0 || size > len(body) {
				size = len(body)
			}
			size &^= 1
			w.Samples = make([]int16, size/2)
			for i := range w.Samples {
				w.Samples[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return w, nil
		}
		if size > len(body) {
			break
		}
		off += 8 + size + size&1
	}
	return WAV{}, errors.New("no data chunk")
}

// Mono returns the first channel.
func (w WAV) Mono() []int16 {
	if w.Channels <= 1 {
		return w.Samples
	}
	out := make([]int16, len(w.Samples)/w.Channels)
	for i := range out {
		out[i] = w.Samples[i*w.Channels]
	}
	return out
}

// EncodeWAV returns a mono 16-bit PCM WAV file of pcm at rate.
func EncodeWAV(pcm []int16, rate int) []byte {
	b := make([]byte, 44+2*len(pcm))
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*len(pcm)))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(rate*2))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*len(pcm)))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(s))
	}
	return b
}
