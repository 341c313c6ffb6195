package sip

import (
	"context"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// stereoWAV splits a recording (16-bit PCM stereo 8 kHz WAV) into its
// channels.
func stereoWAV(t *testing.T, b []byte) (left, right []int16) {
	t.Helper()
	require.Greater(t, len(b), media.WAVHeaderSize)
	require.Equal(t, "RIFF", string(b[:4]))
	require.EqualValues(t, 2, binary.LittleEndian.Uint16(b[22:]), "stereo")
	require.EqualValues(t, 8000, binary.LittleEndian.Uint32(b[24:]))
	require.EqualValues(t, len(b)-media.WAVHeaderSize, binary.LittleEndian.Uint32(b[40:]))
	for d := b[media.WAVHeaderSize:]; len(d) >= 4; d = d[4:] {
		left = append(left, int16(binary.LittleEndian.Uint16(d)))
		right = append(right, int16(binary.LittleEndian.Uint16(d[2:])))
	}
	return left, right
}

// frames counts the 20 ms frames of pcm whose strongest test tone is hz.
func frames(pcm []int16, hz float64) int {
	n := 0
	for i := 0; i+media.FrameSamples <= len(pcm); i += media.FrameSamples {
		if toneOf(pcm[i:i+media.FrameSamples]) == hz {
			n++
		}
	}
	return n
}

// TestRecordedCall: a call to a recording line is recorded to the blob
// store as a stereo WAV, referenced from the contact: the right channel
// holds what the caller heard — the welcome prompt (found by correlation
// with the prompt itself), the recording notice and the agent's 1700 Hz —
// and the left channel the caller's 1000 Hz.
func TestRecordedCall(t *testing.T) {
	blobs, err := blobstore.NewDir(t.TempDir())
	require.NoError(t, err)
	e := newEnvWith(t, queuetest.RedisServer(t), "node-a", func(p *Params) { p.Blobs = blobs },
		func(c *Config) { c.Recording.Lines = []string{"12345"} })
	ph := newPhone(t, e, "1001", 0)
	e.seat("1001")
	c := dial(t, e, "12345", "13800138801", media.PCMU)
	eventually(t, 500, "the caller hears the agent", func() bool { return hasTone(heard(c.rtp.packets()), toneAgent) })
	seq := sequence(c.rtp.packets())
	require.Equal(t, []float64{toneWelcome, toneNotice}, seq[:2], "the notice after the welcome: %v", seq)
	eventually(t, 500, "a second of talk", func() bool { return frames(pcmOf(ph.rtp.packets()), toneCaller) >= 60 })
	tn := ph.contact.Load().(string)
	c.hangup(t)
	var sha string
	eventually(t, 500, "the recording is on the contact", func() bool {
		ct, err := e.q.Contact(context.Background(), tn)
		if err == nil && ct.Recording != nil {
			sha = ct.Recording.SHA256
			require.Equal(t, "audio/wav", ct.Recording.Type)
			return true
		}
		return false
	})
	rc, size, err := blobs.Open(context.Background(), sha)
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.EqualValues(t, size, len(b))
	left, right := stereoWAV(t, b)

	require.GreaterOrEqual(t, frames(left, toneCaller), 60, "the caller on the left")
	require.Zero(t, frames(left, toneAgent), "no agent on the left")
	require.GreaterOrEqual(t, frames(right, toneAgent), 40, "the agent on the right")
	require.Zero(t, frames(right, toneCaller), "no caller on the right")
	require.GreaterOrEqual(t, frames(right, toneNotice), 15, "the recording notice on the right")
	welcome := siptest.SineWave(toneWelcome, 600*siptest.SampleRate/1000, 8000)[:800]
	require.Greater(t, siptest.Correlation(right[:16000], welcome), 0.95, "the welcome prompt at the start, on the right")
	require.Less(t, siptest.Correlation(left[:16000], welcome), 0.5, "not on the left")

	require.Equal(t, 1.0, testutil.ToFloat64(e.s.metrics.ivr.recordings.WithLabelValues("stored")))
	require.Zero(t, testutil.ToFloat64(e.s.metrics.ivr.recDropped))

	// Past its retention the janitor deletes it.
	n, err := e.s.sweepRecordings(context.Background(), time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Zero(t, n, "kept within its retention")
	n, err = e.s.sweepRecordings(context.Background(), time.Now().Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, _, err = blobs.Open(context.Background(), sha)
	require.ErrorIs(t, err, blobstore.ErrNotFound)
	ct, err := e.q.Contact(context.Background(), tn)
	require.NoError(t, err)
	require.Nil(t, ct.Recording)
}

func pcmOf(pkts []rtp.Packet) []int16 {
	var out []int16
	for _, p := range heard(pkts) {
		out = append(out, p...)
	}
	return out
}
