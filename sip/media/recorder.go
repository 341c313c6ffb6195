package media

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// A Recorder taps a leg's audio for a call recording: every audio frame the
// leg receives (its peer speaking) and sends (prompts, hold audio, the
// bridged party) is copied into a bounded buffer, never waiting: when the
// writer falls behind, frames are dropped and counted. Its writer (Run)
// decodes the G.711 frames and lays them on a timeline, in a stereo WAV
// (8 kHz, 16-bit PCM): what the leg received on the left channel, what it
// sent on the right. A frame goes where it arrived (or was sent), unless its
// RTP timestamp continues its direction's previous frame: then right after
// it, as a jitter buffer plays it, however late this node read or sent it
// (a busy machine's late send or read is not a gap the caller heard).
// Copying a frame allocates nothing.
type Recorder struct {
	frames  chan tapFrame
	stop    chan struct{}
	stopped atomic.Bool
	dropped atomic.Uint64
	taken   atomic.Uint64
	start   int64 // clock() when recording began
}

// Tap directions.
const (
	TapIn  = 0 // received from the leg's peer
	TapOut = 1 // sent to the leg's peer
)

// maxTapBytes is the largest frame a recorder copies (40 ms of G.711);
// longer packets are cut.
const maxTapBytes = 2 * FrameSamples

type tapFrame struct {
	at    int64
	ts    uint32 // the frame's RTP timestamp on its stream
	dir   uint8
	codec Codec
	n     uint16
	data  [maxTapBytes]byte
}

// NewRecorder returns a recorder holding up to buffer frames (both
// directions together) for its writer.
func NewRecorder(buffer int) *Recorder {
	if buffer < 2 {
		buffer = 2
	}
	return &Recorder{frames: make(chan tapFrame, buffer), stop: make(chan struct{}), start: clock()}
}

// put copies one frame with RTP timestamp ts, or drops it when the buffer
// is full or the recording stopped. It never blocks.
func (r *Recorder) put(dir uint8, c Codec, ts uint32, payload []byte) {
	if r.stopped.Load() {
		return
	}
	var f tapFrame
	f.at, f.ts, f.dir, f.codec = clock(), ts, dir, c
	f.n = uint16(copy(f.data[:], payload))
	select {
	case r.frames <- f:
		r.taken.Add(1)
	default:
		r.dropped.Add(1)
	}
}

// Dropped is how many frames were dropped because the writer fell behind.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Frames is how many frames were taken for the writer.
func (r *Recorder) Frames() uint64 { return r.taken.Load() }

// Stop ends the recording: frames after it are ignored, and Run writes what
// it holds and returns. Stopping twice does nothing.
func (r *Recorder) Stop() {
	if r.stopped.CompareAndSwap(false, true) {
		close(r.stop)
	}
}

// Recording's WAV format.
const (
	recRate     = 8000
	recChannels = 2
	recBits     = 16
	// WAVHeaderSize is the size of the header Run writes first.
	WAVHeaderSize = 44
	// recWindow is the timeline kept in memory: frames arriving up to this
	// late (behind the newest) still land at their place.
	recWindow = recRate // 1 s of samples
	// recDelay is how far behind the newest frame samples are written out.
	recDelay = recRate / 4 // 250 ms
	// snap: a frame arriving within this many samples of where its
	// direction's last one ended continues it (packet jitter, not a gap).
	snap = FrameSamples / 2
	// recLate: a frame whose timestamp continues its direction's last one
	// continues it when it arrived up to this many samples after that one's
	// end (a late read or send, a burst after a stall); later, the place it
	// would take may be written out already, and it goes where it arrived.
	recLate = recDelay - FrameSamples
)

// ErrTooLong is returned by Run when the recording passes its byte limit;
// what was written stays valid.
var ErrTooLong = errors.New("media: recording reached its size limit")

// Run writes the recording to w until Stop, then fixes the header if w is
// also an io.WriterAt (a file); limit bounds the bytes written (0: none).
// It returns the bytes written. Call it once, from its own goroutine.
func (r *Recorder) Run(w io.Writer, limit int64) (int64, error) {
	ww := &wavWriter{w: bufio.NewWriterSize(w, 8<<10), limit: limit}
	var err error
	if err = ww.header(); err != nil {
		return ww.n, err
	}
	var tl timeline
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for err == nil {
		select {
		case f := <-r.frames:
			err = tl.add(ww, &f, r.start)
		case <-tick.C:
			err = tl.flush(ww, (clock()-r.start)/int64(time.Second/recRate)-recDelay)
		case <-r.stop:
			// What is buffered still goes in.
			for more := true; more && err == nil; {
				select {
				case f := <-r.frames:
					err = tl.add(ww, &f, r.start)
				default:
					more = false
				}
			}
			if err == nil {
				err = tl.flush(ww, tl.end())
			}
			if err == nil {
				err = ww.w.Flush()
			}
			if err == nil {
				err = ww.fixHeader(w)
			}
			return ww.n, err
		}
	}
	_ = ww.w.Flush()
	_ = ww.fixHeader(w)
	return ww.n, err
}

// timeline is the last recWindow samples of both channels, by sample
// position since the recording began.
type timeline struct {
	ring    [recWindow][recChannels]int16
	flushed int64              // samples before it are written out
	cursor  [recChannels]int64 // where each direction's last frame ended
	// nextTS is the RTP timestamp that continues each direction's last
	// frame, once it has one (seen).
	nextTS [recChannels]uint32
	seen   [recChannels]bool
	pcm    [maxTapBytes]int16 // decode buffer
}

// add lays one frame at its place: where it arrived, or right after its
// direction's previous frame when that is within snap (jitter) or its
// timestamp continues that frame's and it is at most recLate behind.
func (tl *timeline) add(ww *wavWriter, f *tapFrame, start int64) error {
	if int(f.dir) >= recChannels || f.n == 0 {
		return nil
	}
	n := int64(f.n)
	pos := (f.at - start) / int64(time.Second/recRate)
	// A packet arrives when its last sample is due: it began n samples earlier.
	pos -= n
	c := tl.cursor[f.dir]
	continues := tl.seen[f.dir] && f.ts == tl.nextTS[f.dir]
	if pos-c < snap || continues && pos-c < recLate {
		pos = c // continues its direction (jitter, a burst); never overwrites its own past
	}
	tl.nextTS[f.dir], tl.seen[f.dir] = f.ts+uint32(n), true
	if pos < tl.flushed {
		pos = tl.flushed
	}
	// Make room: everything more than a window behind this frame's end goes out.
	if over := pos + n - tl.flushed - recWindow; over > 0 {
		if err := tl.flush(ww, tl.flushed+over); err != nil {
			return err
		}
	}
	Decode(tl.pcm[:n], f.data[:n], f.codec)
	for i := int64(0); i < n; i++ {
		tl.ring[(pos+i)%recWindow][f.dir] = tl.pcm[i]
	}
	if pos+n > tl.cursor[f.dir] {
		tl.cursor[f.dir] = pos + n
	}
	return nil
}

// end is where the last frame of either direction ended.
func (tl *timeline) end() int64 { return max(tl.cursor[0], tl.cursor[1]) }

// flush writes the samples before upto (silence where no frame fell).
func (tl *timeline) flush(ww *wavWriter, upto int64) error {
	for tl.flushed < upto {
		slot := &tl.ring[tl.flushed%recWindow]
		if err := ww.sample(slot[0], slot[1]); err != nil {
			return err
		}
		*slot = [recChannels]int16{}
		tl.flushed++
	}
	return nil
}

// wavWriter writes a 16-bit PCM stereo WAV whose sizes are fixed at the end.
type wavWriter struct {
	w     *bufio.Writer
	n     int64 // bytes written, header included
	limit int64
	buf   [4]byte
}

func wavHeader(dataBytes uint32) [WAVHeaderSize]byte {
	var h [WAVHeaderSize]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+dataBytes)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], recChannels)
	binary.LittleEndian.PutUint32(h[24:], recRate)
	binary.LittleEndian.PutUint32(h[28:], recRate*recChannels*recBits/8)
	binary.LittleEndian.PutUint16(h[32:], recChannels*recBits/8)
	binary.LittleEndian.PutUint16(h[34:], recBits)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], dataBytes)
	return h
}

func (ww *wavWriter) header() error {
	h := wavHeader(0)
	n, err := ww.w.Write(h[:])
	ww.n += int64(n)
	return err
}

func (ww *wavWriter) sample(l, r int16) error {
	if ww.limit > 0 && ww.n+4 > ww.limit {
		return ErrTooLong
	}
	binary.LittleEndian.PutUint16(ww.buf[0:], uint16(l))
	binary.LittleEndian.PutUint16(ww.buf[2:], uint16(r))
	n, err := ww.w.Write(ww.buf[:])
	ww.n += int64(n)
	return err
}

// fixHeader writes the final sizes where w can write at an offset.
func (ww *wavWriter) fixHeader(w io.Writer) error {
	wa, ok := w.(io.WriterAt)
	if !ok {
		return nil
	}
	data := ww.n - WAVHeaderSize
	if data < 0 || data > 1<<32-37 {
		return fmt.Errorf("media: recording of %d bytes does not fit a WAV", ww.n)
	}
	h := wavHeader(uint32(data))
	_, err := wa.WriteAt(h[:], 0)
	return err
}

// SetTap has the leg copy its audio, both ways, to r (nil: no more).
func (l *Leg) SetTap(r *Recorder) { l.tap.Store(r) }
