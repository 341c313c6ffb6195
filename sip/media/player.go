package media

import (
	"sync"
	"sync/atomic"
)

// A Player plays clips in order to one leg (a prompt, or "您前面还有" + "三" + "位" composed from digit prompts) and
// says when it is done. A Player is played once, by one leg.
type Player struct {
	clips []*Clip
	ci    int // position: clip and frame, guarded by the playing leg's mutex
	fi    int

	stopped atomic.Bool
	done    chan struct{}
	once    sync.Once
}

// NewPlayer makes a player of clips (nil clips are skipped).
func NewPlayer(clips ...*Clip) *Player {
	p := &Player{done: make(chan struct{})}
	for _, c := range clips {
		if c != nil && c.frames > 0 {
			p.clips = append(p.clips, c)
		}
	}
	return p
}

// Done is closed after the last frame was sent, or when the player was stopped (by Stop, or by its leg playing
// something else or closing).
func (p *Player) Done() <-chan struct{} { return p.done }

// Stop ends the player: it sends nothing more and Done closes.
func (p *Player) Stop() {
	p.stopped.Store(true)
	p.finish()
}

func (p *Player) finish() { p.once.Do(func() { close(p.done) }) }

// next returns the next frame in codec c, or nil when there is none (and then Done closes).
func (p *Player) next(c Codec) []byte {
	if p.stopped.Load() || p.ci >= len(p.clips) {
		p.finish()
		return nil
	}
	f := p.clips[p.ci].Frame(p.fi, c)
	if p.fi++; p.fi >= p.clips[p.ci].frames {
		p.ci, p.fi = p.ci+1, 0
	}
	return f
}

// remaining reports whether frames are left to send.
func (p *Player) remaining() int {
	if p.ci >= len(p.clips) {
		return 0
	}
	return 1
}

// A HoldStream is one hold class's audio, shared by every waiting caller: a clip looped, its position advanced once
// per pacer tick for everyone (everyone hears the same frame at the same moment), encoded once in both codecs.
type HoldStream struct {
	Name string
	clip *Clip
}

// NewHoldStream loops clip c; a nil or empty clip is one frame of silence.
func NewHoldStream(name string, c *Clip) *HoldStream {
	if c == nil || c.frames == 0 {
		c = NewClip(name, make([]int16, FrameSamples))
	}
	return &HoldStream{Name: name, clip: c}
}

// frame is the frame everyone hears at pacer tick k.
func (h *HoldStream) frame(k uint64, c Codec) []byte {
	return h.clip.Frame(int(k%uint64(h.clip.frames)), c)
}
