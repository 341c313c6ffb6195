package sip

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/lianxin/lianxin/sip/media"
)

// prompts are the recorded (or generated) phrases callers hear, decoded once
// at start and shared by every call.
type prompts struct {
	clips map[string]*media.Clip
	hold  *media.HoldStream
}

// loadPrompts reads every <name>.wav of fsys (at its root or under
// prompts/): the fsys prompts with the operator's folder laid over them
// (configs.Config.PromptFS).
func loadPrompts(fsys fs.FS, hold string) (*prompts, error) {
	p := &prompts{clips: map[string]*media.Clip{}}
	if fsys != nil {
		if sub, err := fs.Sub(fsys, "prompts"); err == nil {
			if m, _ := fs.Glob(sub, "*.wav"); len(m) > 0 {
				fsys = sub
			}
		}
		names, err := fs.Glob(fsys, "*.wav")
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			f, err := fsys.Open(n)
			if err != nil {
				return nil, err
			}
			pcm, err := media.ReadWAV(f)
			_ = f.Close()
			if err != nil {
				return nil, fmt.Errorf("prompt %s: %w", n, err)
			}
			name := strings.TrimSuffix(n, ".wav")
			p.clips[name] = media.NewClip(name, pcm)
		}
	}
	h := p.clips[hold]
	if h == nil {
		if len(p.clips) > 0 {
			return nil, errors.New("sip.hold: no prompt named " + hold)
		}
		h = media.NewClip("silence", make([]int16, media.FrameSamples*50))
	}
	p.hold = media.NewHoldStream(hold, h)
	return p, nil
}

// get returns a prompt, nil when there is none (the caller hears nothing
// for it rather than the call failing).
func (p *prompts) get(name string) *media.Clip { return p.clips[name] }

// number says n (0–9999) in Chinese from digit prompts: 二十三, 一百零五,
// 两千. count says whether n counts something (两 rather than 二 for 2).
func (p *prompts) number(n int, count bool) []*media.Clip {
	d := func(i int) *media.Clip { return p.get(fmt.Sprintf("num-%d", i)) }
	if n == 0 {
		return []*media.Clip{d(0)}
	}
	if n == 2 && count {
		return []*media.Clip{p.get("num-liang")}
	}
	var out []*media.Clip
	units := []struct {
		v    int
		name string
	}{{1000, "num-1000"}, {100, "num-100"}, {10, "num-10"}}
	zero := false
	started := false
	for _, u := range units {
		q := n / u.v
		n %= u.v
		if q == 0 {
			if started {
				zero = true
			}
			continue
		}
		if zero {
			out = append(out, d(0))
			zero = false
		}
		switch {
		case q == 2 && u.v >= 100:
			out = append(out, p.get("num-liang"))
		case q == 1 && u.v == 10 && !started:
			// 十一, not 一十一
		default:
			out = append(out, d(q))
		}
		out = append(out, p.get(u.name))
		started = true
	}
	if n > 0 {
		if zero {
			out = append(out, d(0))
		}
		out = append(out, d(n))
	}
	return out
}

// announcement is what a waiting caller hears every so often: position and
// expected wait.
func (p *prompts) announcement(pos int, wait time.Duration, maxPos int) []*media.Clip {
	var out []*media.Clip
	switch {
	case pos == 1:
		out = append(out, p.get("position-next"))
	case pos > maxPos:
		out = append(out, p.get("position-more-than"))
		out = append(out, p.number(maxPos, true)...)
		out = append(out, p.get("position-after"))
	default:
		out = append(out, p.get("position-before"))
		out = append(out, p.number(pos-1, true)...)
		out = append(out, p.get("position-after"))
	}
	if wait > 0 {
		min := int((wait + 30*time.Second) / time.Minute)
		if min < 1 {
			out = append(out, p.get("wait-under-minute"))
		} else {
			out = append(out, p.get("wait-before"))
			out = append(out, p.number(min, true)...)
			out = append(out, p.get("wait-minutes"))
		}
	}
	return nonNil(out)
}
