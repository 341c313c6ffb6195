package main

import (
	"bytes"
	"context"
	le "encoding/binary"
	"io"
	"io/fs"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// loudest returns the n-sample stretch of pcm with the most energy.
func loudest(pcm []int16, n int) []int16 {
	best, at := -1.0, 0
	for off := 0; off+n <= len(pcm); off += n / 4 {
		var e float64
		for _, x := range pcm[off : off+n] {
			e += float64(x) * float64(x)
		}
		if e > best {
			best, at = e, off
		}
	}
	return pcm[at : at+n]
}

// toneSecond says whether some second of pcm (in steps of a quarter
// second) holds a tone of hz.
func toneSecond(pcm []int16, hz float64) bool {
	for off := 0; off+8000 <= len(pcm); off += 2000 {
		if siptest.HasTone(pcm[off:off+8000], hz) {
			return true
		}
	}
	return false
}

// TestRecordedCallSippBaresip: a sipp caller (1000 Hz) talks to a baresip
// agent (1700 Hz) on a line that records; the WAV in the blob store, which
// the contact refers to, holds on its right channel the welcome prompt and
// the recording notice (found by correlation with the prompts themselves)
// and the agent, and on its left the caller — by content.
func TestRecordedCallSippBaresip(t *testing.T) {
	t.Parallel()
	siptest.RequireTools(t, "sipp", "baresip")
	s := queuetest.RedisServer(t)
	blobDir := t.TempDir()
	n := startNode(t, s.URL, "node-a", noMenus, func(c *configs.Config) {
		c.SIP.Recording.Lines = []string{"12345"}
		c.Blobs.Dir = blobDir
	})
	gw := n.n.voice.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, d := readyWithPhone(ctx, t, gw, n.base, "1001")
	caller := siptest.Sipp(t, siptest.SippOptions{Scenario: "caller.xml", Target: gw, Service: "12345",
		Vars: map[string]string{"hold_ms": "12000", "caller": "13800138000"}})
	tn := next(t, d, "assigned").Object().TrackingNo
	res, err := caller.Wait()
	require.NoError(t, err)
	require.Equal(t, 1, res.Successful, "sipp: %s", res.Errors)
	require.Equal(t, tn, next(t, d, "ended").TrackingNo())

	var sha string
	require.Eventually(t, func() bool {
		c, err := n.n.q.Contact(ctx, tn)
		if err != nil || c.Recording == nil {
			return false
		}
		sha = c.Recording.SHA256
		return true
	}, time.Minute, 50*time.Millisecond, "the recording is on the contact")
	blobs, err := blobstore.NewDir(blobDir)
	require.NoError(t, err)
	rc, _, err := blobs.Open(ctx, sha)
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.Equal(t, "RIFF", string(b[:4]))
	require.EqualValues(t, 2, le.LittleEndian.Uint16(b[22:]), "stereo")
	require.EqualValues(t, 8000, le.LittleEndian.Uint32(b[24:]))
	require.EqualValues(t, 16, le.LittleEndian.Uint16(b[34:]))
	require.EqualValues(t, len(b)-media.WAVHeaderSize, le.LittleEndian.Uint32(b[40:]))
	var left, right []int16
	for p := b[media.WAVHeaderSize:]; len(p) >= 4; p = p[4:] {
		left = append(left, int16(le.LittleEndian.Uint16(p)))
		right = append(right, int16(le.LittleEndian.Uint16(p[2:])))
	}
	secs := float64(len(left)) / 8000
	require.Greater(t, secs, 10.0, "the call's length")
	require.Less(t, secs, 30.0)

	prompt := func(name string) []int16 {
		raw, err := fs.ReadFile(configs.Prompts, name+".wav")
		require.NoError(t, err)
		pcm, err := media.ReadWAV(bytes.NewReader(raw))
		require.NoError(t, err)
		return loudest(pcm, 800) // 100 ms of speech
	}
	welcome, notice := prompt("welcome-12345"), prompt("recording-notice")
	head := right[:min(len(right), 12*8000)]
	require.Greater(t, siptest.Correlation(head, welcome), 0.9, "the welcome prompt, on the right")
	require.Greater(t, siptest.Correlation(head, notice), 0.9, "the recording notice, on the right")
	require.Less(t, siptest.Correlation(left[:len(head)], welcome), 0.5, "not on the left")

	// The talk is the call's last seconds. On a loaded machine a peer's RTP
	// comes in bursts with gaps (recorded as silence), so each side's tone
	// is looked for in its best second of the last six, and the agent must
	// be in no second of the caller's side.
	tail := len(left) - 6*8000
	require.True(t, toneSecond(left[tail:], siptest.CallerToneHz), "the caller on the left: ratio %.2f over 6 s",
		siptest.Tone(left[tail:], siptest.CallerToneHz))
	require.True(t, toneSecond(right[tail:], siptest.AgentToneHz), "the agent on the right: ratio %.2f over 6 s",
		siptest.Tone(right[tail:], siptest.AgentToneHz))
	for off := tail; off+8000 <= len(left); off += 2000 {
		require.False(t, siptest.HasTone(left[off:off+8000], siptest.AgentToneHz), "the agent not on the left")
	}
}
