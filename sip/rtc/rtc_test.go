package rtc_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/rtc"
	"github.com/lianxin/lianxin/sip/rtc/rtctest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

func engine(t testing.TB) *rtc.Engine {
	e, err := rtc.NewEngine(rtc.Config{Loopback: true})
	require.NoError(t, err)
	return e
}

// connect negotiates a browser with a new session, as the desk does: offer, answer, connected.
func connect(t testing.TB, e *rtc.Engine) (*rtc.Session, *rtctest.Browser) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := e.NewSession(nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	b, err := rtctest.NewBrowser(media.PCMU, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	offer, err := b.Offer(ctx, false)
	require.NoError(t, err)
	answer, err := s.Answer(ctx, offer)
	require.NoError(t, err)
	require.NoError(t, b.SetAnswer(answer))
	require.NoError(t, b.WaitConnected(ctx))
	return s, b
}

// rtpLeg is a plain RTP leg on loopback towards rec (the caller's side of the bridge).
func rtpLeg(t testing.TB, rec *siptest.RTPRecorder) *media.Leg {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	l := media.NewLeg(media.LegConfig{Conn: conn, Remote: rec.Addr(), Codec: media.PCMU, EventPT: 101})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	t.Cleanup(func() { cancel(); _ = l.Close(); <-done })
	return l
}

func waitTone(t *testing.T, what string, hz float64, get func() []int16) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pcm := get()
		if len(pcm) >= 1600 && siptest.HasTone(pcm[len(pcm)-1600:], hz) {
			return
		}
		if time.Now().After(deadline) {
			n := len(pcm)
			tone := 0.0
			if n >= 1600 {
				tone = siptest.Tone(pcm[n-1600:], hz)
			}
			t.Fatalf("%s: no %v Hz tone (%d samples, ratio %.2f)", what, hz, n, tone)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A browser's media session bridged to a caller's RTP leg: each hears the other by content, the hold stream
// reaches the caller, a key press reaches the caller as RFC 4733, and after an ICE restart on the same session the
// audio goes on both ways.
func TestBrowserLegBridgedToCaller(t *testing.T) {
	e := engine(t)
	s, b := connect(t, e)
	caller := siptest.NewRTPRecorder(t)
	leg := rtpLeg(t, caller)
	unbridge := media.Bridge(leg, s.Leg())
	defer unbridge()

	b.Say(siptest.SineWave(1000, 8000, 8000))
	snd := caller.Send(leg.LocalAddr(), siptest.PayloadPCMU, siptest.SineWave(440, 8000, 8000))
	defer snd.Stop()
	waitTone(t, "the browser hears the caller", 440, func() []int16 { return b.Heard(1600, false) })
	waitTone(t, "the caller hears the browser", 1000, caller.Audio)

	// Hold: the caller hears the hold stream, not the agent.
	pacer := media.NewPacer(1, zaptest.NewLogger(t))
	pctx, pcancel := context.WithCancel(context.Background())
	defer pcancel()
	go func() { _ = pacer.Run(pctx) }()
	pacer.Add(leg)
	hold := media.NewHoldStream("hold", media.NewClip("hold", siptest.SineWave(1500, 8000, 8000)))
	leg.Hold(hold)
	waitTone(t, "the caller hears hold audio", 1500, caller.Audio)
	unbridge = media.Bridge(leg, s.Leg())
	waitTone(t, "the caller hears the browser again", 1000, caller.Audio)

	require.NoError(t, leg.SendDigit(context.Background(), '5'))
	require.Eventually(t, func() bool { return caller.Digits(101) == "5" }, 10*time.Second, 20*time.Millisecond,
		"the caller gets the key press as RFC 4733")

	// ICE restart on the same session: the call goes on.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offer, err := b.Offer(ctx, true)
	require.NoError(t, err)
	answer, err := s.Answer(ctx, offer)
	require.NoError(t, err)
	require.NoError(t, b.SetAnswer(answer))
	b.Heard(0, true)
	b.Say(siptest.SineWave(2000, 8000, 8000))
	waitTone(t, "the caller hears the browser after the ICE restart", 2000, caller.Audio)
	waitTone(t, "the browser hears the caller after the ICE restart", 440, func() []int16 { return b.Heard(1600, false) })
}

// Offers the session cannot take are refused with an error, and the session still takes a good one after.
func TestBadOffers(t *testing.T) {
	e := engine(t)
	s, err := e.NewSession(nil, nil)
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	_, err = s.Answer(ctx, "v=0\r\n")
	require.ErrorIs(t, err, rtc.ErrBadOffer)
	_, err = s.Answer(ctx, "not sdp at all m=audio")
	require.ErrorIs(t, err, rtc.ErrBadOffer)

	pcma, err := rtc.NewEngine(rtc.Config{Loopback: true, Codec: media.PCMA})
	require.NoError(t, err)
	other, err := pcma.NewSession(nil, nil)
	require.NoError(t, err)
	defer other.Close()
	b, err := rtctest.NewBrowser(media.PCMU, 0)
	require.NoError(t, err)
	defer b.Close()
	offer, err := b.Offer(ctx, false)
	require.NoError(t, err)
	// The browser offers PCMU and PCMA: a PCMA engine takes it.
	_, err = other.Answer(ctx, offer)
	require.NoError(t, err)
}
