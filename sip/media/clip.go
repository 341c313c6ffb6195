package media

import (
	"fmt"
	"os"
	"time"
)

// A Clip is audio decoded once and encoded once in both codecs, cut into FrameSamples-byte frames, and shared
// read-only by every call that plays it.
type Clip struct {
	Name string

	frames int
	mulaw  []byte // frames*FrameSamples bytes
	alaw   []byte
}

// NewClip encodes pcm (8 kHz mono) in both codecs; the last frame is padded with silence.
func NewClip(name string, pcm []int16) *Clip {
	frames := (len(pcm) + FrameSamples - 1) / FrameSamples
	c := &Clip{Name: name, frames: frames, mulaw: make([]byte, frames*FrameSamples), alaw: make([]byte, frames*FrameSamples)}
	Encode(c.mulaw, pcm, PCMU)
	Encode(c.alaw, pcm, PCMA)
	for i := len(pcm); i < len(c.mulaw); i++ {
		c.mulaw[i] = silence(PCMU)
		c.alaw[i] = silence(PCMA)
	}
	return c
}

// LoadClip reads a WAV file (see ReadWAV) into a clip named after the path.
func LoadClip(path string) (*Clip, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pcm, err := ReadWAV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return NewClip(path, pcm), nil
}

// Concat joins clips frame by frame into a new clip (each keeps its own silence padding). Nil clips are skipped.
func Concat(name string, clips ...*Clip) *Clip {
	c := &Clip{Name: name}
	for _, x := range clips {
		if x == nil {
			continue
		}
		c.frames += x.frames
		c.mulaw = append(c.mulaw, x.mulaw...)
		c.alaw = append(c.alaw, x.alaw...)
	}
	return c
}

// Frames is the number of 20 ms frames in the clip.
func (c *Clip) Frames() int { return c.frames }

// Frame returns frame i (0 <= i < Frames()) in codec PCMA, or PCMU for any other codec: FrameSamples bytes shared by
// every caller, never to be written to.
func (c *Clip) Frame(i int, codec Codec) []byte {
	b := c.mulaw
	if codec == PCMA {
		b = c.alaw
	}
	return b[i*FrameSamples : (i+1)*FrameSamples : (i+1)*FrameSamples]
}

// Duration is the clip's length: 20 ms per frame.
func (c *Clip) Duration() time.Duration { return time.Duration(c.frames) * 20 * time.Millisecond }
