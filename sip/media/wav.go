package media

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
)

// maxWAV bounds what ReadWAV reads: an hour of 16-bit audio at 8 kHz is 57.6 MB.
const maxWAV = 64 << 20

// WAVE format tags.
const (
	wavPCM        = 1
	wavALaw       = 6
	wavMuLaw      = 7
	wavExtensible = 0xFFFE
)

// ReadWAV reads a RIFF WAVE file of 16-bit linear PCM, 8-bit µ-law (format 7) or 8-bit A-law (format 6), mono, at
// 8 kHz, and returns its samples. Anything else is an error that names what the file is (e.g. "44100 Hz stereo:
// want 8000 Hz mono"). Every error wraps ErrBadWAV.
func ReadWAV(r io.Reader) (pcm []int16, err error) {
	data, err := io.ReadAll(io.LimitReader(r, maxWAV+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadWAV, err)
	}
	if len(data) > maxWAV {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrBadWAV, maxWAV)
	}
	return parseWAV(data)
}

type wavFormat struct {
	tag      uint16
	channels uint16
	rate     uint32
	bits     uint16
}

func parseWAV(b []byte) ([]int16, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: not a RIFF WAVE file", ErrBadWAV)
	}
	b = b[12:]
	var f *wavFormat
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, fmt.Errorf("%w: truncated chunk header", ErrBadWAV)
		}
		id, size := string(b[0:4]), binary.LittleEndian.Uint32(b[4:8])
		b = b[8:]
		if uint64(size) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: %q chunk says %d bytes, file has %d", ErrBadWAV, id, size, len(b))
		}
		body := b[:size]
		b = b[size:]
		if size%2 == 1 && len(b) > 0 { // chunks are padded to an even length
			b = b[1:]
		}
		switch id {
		case "fmt ":
			var err error
			if f, err = parseFmt(body); err != nil {
				return nil, err
			}
		case "data":
			if f == nil {
				return nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrBadWAV)
			}
			return decodeWAVData(f, body)
		}
	}
	return nil, fmt.Errorf("%w: no data chunk", ErrBadWAV)
}

func parseFmt(b []byte) (*wavFormat, error) {
	if len(b) < 16 {
		return nil, fmt.Errorf("%w: fmt chunk of %d bytes, want at least 16", ErrBadWAV, len(b))
	}
	f := &wavFormat{
		tag:      binary.LittleEndian.Uint16(b[0:2]),
		channels: binary.LittleEndian.Uint16(b[2:4]),
		rate:     binary.LittleEndian.Uint32(b[4:8]),
		bits:     binary.LittleEndian.Uint16(b[14:16]),
	}
	if f.tag == wavExtensible {
		if len(b) < 26 {
			return nil, fmt.Errorf("%w: extensible fmt chunk of %d bytes, want at least 26", ErrBadWAV, len(b))
		}
		f.tag = binary.LittleEndian.Uint16(b[24:26]) // the sub-format GUID starts with the format tag
	}
	var what string
	switch {
	case f.tag == wavPCM && f.bits == 16:
	case f.tag == wavMuLaw && f.bits == 8, f.tag == wavALaw && f.bits == 8:
	case f.tag == wavPCM:
		what = strconv.Itoa(int(f.bits)) + "-bit PCM"
	case f.tag == wavMuLaw, f.tag == wavALaw:
		what = strconv.Itoa(int(f.bits)) + "-bit G.711"
	case f.tag == 3:
		what = "floating-point samples"
	default:
		what = "format " + strconv.Itoa(int(f.tag))
	}
	if what != "" {
		return nil, fmt.Errorf("%w: %s: want 16-bit PCM, 8-bit µ-law or 8-bit A-law", ErrBadWAV, what)
	}
	if f.channels != 1 || f.rate != 8000 {
		ch := strconv.Itoa(int(f.channels)) + " channels"
		switch f.channels {
		case 1:
			ch = "mono"
		case 2:
			ch = "stereo"
		}
		return nil, fmt.Errorf("%w: %d Hz %s: want 8000 Hz mono", ErrBadWAV, f.rate, ch)
	}
	return f, nil
}

func decodeWAVData(f *wavFormat, b []byte) ([]int16, error) {
	switch f.tag {
	case wavMuLaw, wavALaw:
		pcm := make([]int16, len(b))
		c := PCMU
		if f.tag == wavALaw {
			c = PCMA
		}
		Decode(pcm, b, c)
		return pcm, nil
	}
	if len(b)%2 != 0 {
		return nil, fmt.Errorf("%w: 16-bit data chunk of odd length %d", ErrBadWAV, len(b))
	}
	pcm := make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return pcm, nil
}
