package media

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// readStereo parses a recording: a 16-bit PCM stereo 8 kHz WAV as
// Recorder writes it, into its left and right channels.
func readStereo(t testing.TB, b []byte) (left, right []int16) {
	t.Helper()
	require.GreaterOrEqual(t, len(b), WAVHeaderSize)
	require.Equal(t, "RIFF", string(b[0:4]))
	require.Equal(t, "WAVEfmt ", string(b[8:16]))
	require.EqualValues(t, 1, binary.LittleEndian.Uint16(b[20:]), "PCM")
	require.EqualValues(t, 2, binary.LittleEndian.Uint16(b[22:]), "stereo")
	require.EqualValues(t, 8000, binary.LittleEndian.Uint32(b[24:]))
	require.EqualValues(t, 16, binary.LittleEndian.Uint16(b[34:]))
	require.Equal(t, "data", string(b[36:40]))
	n := binary.LittleEndian.Uint32(b[40:])
	require.EqualValues(t, len(b)-WAVHeaderSize, n, "data size fixed at the end")
	require.EqualValues(t, len(b)-8, binary.LittleEndian.Uint32(b[4:]))
	d := b[WAVHeaderSize:]
	for i := 0; i+4 <= len(d); i += 4 {
		left = append(left, int16(binary.LittleEndian.Uint16(d[i:])))
		right = append(right, int16(binary.LittleEndian.Uint16(d[i+2:])))
	}
	return left, right
}

func rtpRaw(t testing.TB, pt uint8, seq uint16, payload []byte) []byte {
	pk := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SSRC: 9, SequenceNumber: seq, Timestamp: uint32(seq) * FrameSamples}, Payload: payload}
	raw, err := pk.Marshal()
	require.NoError(t, err)
	return raw
}

// TestRecorderStereo taps a caller's leg: what it sends (a paced prompt,
// then the bridged agent, transcoded) lands on the right channel, what it
// receives (the caller) on the left — checked by tone in each channel; the
// tap allocates nothing per packet.
func TestRecorderStereo(t *testing.T) {
	caller, agent := sinkLeg(t, PCMU, 101), sinkLeg(t, PCMA, 0)
	rec := NewRecorder(1000)
	caller.SetTap(rec)
	f, err := os.Create(filepath.Join(t.TempDir(), "rec.wav"))
	require.NoError(t, err)
	defer f.Close()
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() { n, err := rec.Run(f, 0); done <- result{n, err} }()

	caller.Hold(NewHoldStream("prompt", NewClip("prompt", tone(440, 8000, 25*FrameSamples))))
	var buf [1500]byte
	for k := uint64(0); k < 25; k++ {
		_, ok := caller.paced(k, int64(k)*int64(tick), buf[:])
		require.True(t, ok)
	}
	Bridge(caller, agent)
	callerPCM, agentPCM := tone(1000, 8000, 50*FrameSamples), tone(2000, 8000, 50*FrameSamples)
	cp, ap := make([]byte, FrameSamples), make([]byte, FrameSamples)
	for i := 0; i < 50; i++ {
		Encode(cp, callerPCM[i*FrameSamples:(i+1)*FrameSamples], PCMU)
		Encode(ap, agentPCM[i*FrameSamples:(i+1)*FrameSamples], PCMA)
		require.True(t, caller.receive(rtpRaw(t, 0, uint16(i), cp), caller.Remote()))
		require.True(t, agent.receive(rtpRaw(t, 8, uint16(i), ap), agent.Remote()))
	}
	raw := rtpRaw(t, 0, 100, cp)
	seq := uint16(100)
	allocs := testing.AllocsPerRun(50, func() {
		raw[2], raw[3] = byte(seq>>8), byte(seq)
		seq++
		caller.receive(raw, caller.Remote())
	})
	require.Zero(t, allocs, "the tapped receive path allocates nothing")
	rec.Stop()
	r := <-done
	require.NoError(t, r.err)
	require.Zero(t, rec.Dropped())
	require.EqualValues(t, 25+50+50+51, rec.Frames(), "every frame of the tapped leg, both ways")

	b, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	require.EqualValues(t, len(b), r.n)
	left, right := readStereo(t, b)
	require.GreaterOrEqual(t, len(left), 150*FrameSamples/2)
	f1, share := dominant(left[:40*FrameSamples], 440, 1000, 2000)
	require.Equal(t, 1000.0, f1, "left: the caller (share %.2f)", share)
	require.Greater(t, share, 0.8)
	f2, share := dominant(right[:20*FrameSamples], 440, 1000, 2000)
	require.Equal(t, 440.0, f2, "right first: the prompt (share %.2f)", share)
	require.Greater(t, share, 0.8)
	f3, share := dominant(right[30*FrameSamples:70*FrameSamples], 440, 1000, 2000)
	require.Equal(t, 2000.0, f3, "right then: the agent (share %.2f)", share)
	require.Greater(t, share, 0.8)
}

// TestRecorderDropsRatherThanWaits: with no writer running, a full buffer
// drops and counts frames; the leg goes on sending.
func TestRecorderDropsRatherThanWaits(t *testing.T) {
	caller := sinkLeg(t, PCMU, 0)
	rec := NewRecorder(10)
	caller.SetTap(rec)
	cp := make([]byte, FrameSamples)
	for i := 0; i < 30; i++ {
		require.True(t, caller.receive(rtpRaw(t, 0, uint16(i), cp), caller.Remote()))
	}
	require.EqualValues(t, 10, rec.Frames())
	require.EqualValues(t, 20, rec.Dropped())
	rec.Stop()
	var out bytes.Buffer
	n, err := rec.Run(&out, 0)
	require.NoError(t, err)
	require.EqualValues(t, out.Len(), n)
	// Not a file: the header keeps its placeholder sizes, the data is there.
	require.EqualValues(t, WAVHeaderSize+10*FrameSamples*4, out.Len())

	// A size limit ends the recording with ErrTooLong; what was written stays.
	rec = NewRecorder(100)
	for i := 0; i < 20; i++ {
		rec.put(TapIn, PCMU, uint32(i*FrameSamples), cp)
	}
	rec.Stop()
	out.Reset()
	n, err = rec.Run(&out, WAVHeaderSize+1000)
	require.ErrorIs(t, err, ErrTooLong)
	require.LessOrEqual(t, n, int64(WAVHeaderSize+1000))
}

// A stall of this node (a late send loop, a late read) delays frames whose
// timestamps go on without a break: they continue their direction as the
// caller's jitter buffer plays them, and the recording has no gap; a break
// in the timestamps (nothing was sent for a while) keeps its silence.
func TestRecorderTimelineFollowsTimestamps(t *testing.T) {
	const ms = int64(time.Millisecond)
	run := func(t *testing.T, frames []tapFrame) []int16 {
		var tl timeline
		var out bytes.Buffer
		ww := &wavWriter{w: bufio.NewWriter(&out)}
		require.NoError(t, ww.header())
		for i := range frames {
			require.NoError(t, tl.add(ww, &frames[i], 0))
		}
		require.NoError(t, tl.flush(ww, tl.end()))
		require.NoError(t, ww.w.Flush())
		var right []int16
		for p := out.Bytes()[WAVHeaderSize:]; len(p) >= 4; p = p[4:] {
			right = append(right, int16(binary.LittleEndian.Uint16(p[2:])))
		}
		return right
	}
	frame := func(k int, at int64, ts uint32) tapFrame {
		f := tapFrame{at: at, ts: ts, dir: TapOut, codec: PCMU, n: FrameSamples}
		Encode(f.data[:FrameSamples], tone(440, 8000, (k+1)*FrameSamples)[k*FrameSamples:], PCMU)
		return f
	}
	// 20 frames of a prompt; frames 5–9 sent 120 ms late, in a burst.
	var late, gap []tapFrame
	for k := range 20 {
		at := int64(k+1) * 20 * ms
		if k >= 5 && k < 10 {
			at = 10*20*ms + 20*ms + int64(k-5)*ms
		}
		late = append(late, frame(k, at, uint32(k*FrameSamples)))
		// The same frames sent on time, but the stream broke off for 100 ms
		// (five frames' time) after the fifth.
		ts, at := uint32(k*FrameSamples), int64(k+1)*20*ms
		if k >= 5 {
			ts += 5 * FrameSamples
			at += 100 * ms
		}
		gap = append(gap, frame(k, at, ts))
	}
	want := tone(440, 8000, 20*FrameSamples)
	got := run(t, late)
	require.Equal(t, 20*FrameSamples, len(got), "no gap for a late burst")
	requireSimilar(t, want, got)

	got = run(t, gap)
	require.Equal(t, 25*FrameSamples, len(got), "the break in the timestamps stays")
	requireSimilar(t, want[:5*FrameSamples], got[:5*FrameSamples])
	require.Equal(t, make([]int16, 5*FrameSamples), got[5*FrameSamples:10*FrameSamples], "silence where nothing was sent")
	requireSimilar(t, want[5*FrameSamples:], got[10*FrameSamples:])
}

// requireSimilar: got is want through G.711 (within its quantisation).
func requireSimilar(t *testing.T, want, got []int16) {
	t.Helper()
	require.Equal(t, len(want), len(got))
	for i := range want {
		d, tol := abs(int(want[i])-int(got[i])), abs(int(want[i]))/8+64
		require.LessOrEqual(t, d, tol, "sample %d: %d, want about %d", i, got[i], want[i])
	}
}

// FuzzRecorderTimeline feeds frames of any direction, codec, length,
// arrival time and timestamp to the writer: it never panics, and writes
// whole stereo samples covering every frame.
func FuzzRecorderTimeline(f *testing.F) {
	f.Add([]byte{0, 0, 160, 0, 0, 1, 8, 160, 0, 1, 0, 0, 40, 200, 0})
	f.Add([]byte{1, 0, 255, 255, 1, 0, 8, 1, 3, 0, 2, 2, 2, 2, 2})
	f.Add(bytes.Repeat([]byte{0, 0, 160, 100, 0}, 60))
	f.Fuzz(func(t *testing.T, b []byte) {
		var tl timeline
		var out bytes.Buffer
		ww := &wavWriter{w: bufio.NewWriter(&out)}
		require.NoError(t, ww.header())
		var at int64
		var ts [3]uint32
		for len(b) >= 5 {
			fr := tapFrame{dir: b[0] % 3, codec: Codec(8 * (b[1] % 2)), n: uint16(int(b[2]) % (maxTapBytes + 1))}
			at += int64(b[3]) * 1_000_000 // up to 255 ms later
			fr.at = at
			ts[fr.dir] += uint32(b[4]) * 80 // 0: continues the last frame of its direction (if that had 0 samples too)
			fr.ts = ts[fr.dir]
			ts[fr.dir] += uint32(fr.n)
			b = b[5:]
			for i := range fr.data[:fr.n] {
				fr.data[i] = byte(i)
			}
			require.NoError(t, tl.add(ww, &fr, 0))
		}
		require.NoError(t, tl.flush(ww, tl.end()))
		require.NoError(t, ww.w.Flush())
		require.EqualValues(t, ww.n, out.Len())
		require.Zero(t, (out.Len()-WAVHeaderSize)%4, "whole stereo samples")
		require.EqualValues(t, tl.end(), (out.Len()-WAVHeaderSize)/4, "up to the last frame's end")
	})
}
