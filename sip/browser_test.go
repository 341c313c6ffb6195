package sip

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/rtc/rtctest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// deskNotes collects what the browser phone tells the agent's desk.
type deskNotes chan any

func (n deskNotes) notify(m any) {
	select {
	case n <- m:
	default:
	}
}

// call waits for the next phone_call message in state.
func (n deskNotes) call(t *testing.T, state string) PhoneCall {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m := <-n:
			if c, ok := m.(PhoneCall); ok && c.State == state {
				return c
			}
		case <-deadline:
			t.Fatalf("no phone_call %s", state)
		}
	}
}

// openBrowser opens agent's browser phone and connects a pion browser to it, as the desk does.
func openBrowser(t *testing.T, e *env, agent string) (*rtctest.Browser, deskNotes) {
	t.Helper()
	notes := make(deskNotes, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, e.s.OpenPhone(ctx, agent, notes.notify))
	b, err := rtctest.NewBrowser(media.PCMU, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	offer, err := b.Offer(ctx, false)
	require.NoError(t, err)
	answer, err := e.s.PhoneOffer(ctx, agent, offer)
	require.NoError(t, err)
	require.NoError(t, b.SetAnswer(answer))
	require.NoError(t, b.WaitConnected(ctx))
	return b, notes
}

func lastTone(pkts []rtp.Packet, n int) []float64 {
	h := heard(pkts)
	if len(h) > n {
		h = h[len(h)-n:]
	}
	out := make([]float64, len(h))
	for i, pcm := range h {
		out[i] = toneOf(pcm)
	}
	return out
}

func mostly(tones []float64, hz float64) bool {
	n := 0
	for _, x := range tones {
		if x == hz {
			n++
		}
	}
	return len(tones) > 0 && n*10 >= len(tones)*8
}

// An agent whose phone is the browser: a call rings the desk, the agent answers in the page, each side hears the
// other by content; hold gives the caller the hold stream, mute gives silence, a key press reaches the caller as
// RFC 4733; the agent hangs up, the caller gets BYE, the contact waits for wrap-up, and the binding goes with the
// phone.
func TestBrowserPhoneCall(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.WebRTC.Loopback = true })
	b, notes := openBrowser(t, e, "1001")
	b.Say(siptest.SineWave(toneAgent, 8000, 8000))
	uri, err := e.s.reg.lookup(context.Background(), "1001")
	require.NoError(t, err)
	require.Equal(t, "desk-1001", uri.User, "the browser phone is the agent's binding")
	until, err := e.q.Phone(context.Background(), "1001")
	require.NoError(t, err)
	require.False(t, until.IsZero(), "routing sees a phone")

	e.seat("1001")
	c := dial(t, e, "12345", "13800138000", media.PCMU)
	ring := notes.call(t, "ringing")
	require.True(t, queue.ValidTrackingNo(ring.Contact), "ringing names the contact: %+v", ring)
	require.Equal(t, "+86138****8000", ring.Caller, "the caller's number masked")
	require.Zero(t, b.Packets(), "nothing reaches the browser before the answer")

	answered := time.Now()
	require.NoError(t, e.s.PhoneAnswer(context.Background(), "1001"))
	select {
	case <-b.First():
		t.Logf("call-answer-to-audio (PhoneAnswer to the first RTP packet at the browser): %v", time.Since(answered))
	case <-time.After(30 * time.Second):
		t.Fatal("no audio at the browser after the answer")
	}
	notes.call(t, "talking")
	eventually(t, 500, "the browser hears the caller", func() bool {
		return siptest.HasTone(b.Heard(1600, false), toneCaller)
	})
	eventually(t, 500, "the caller hears the agent", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneAgent) })
	ct, err := e.q.Contact(context.Background(), ring.Contact)
	require.NoError(t, err)
	require.Equal(t, queue.StateAssigned, ct.State)
	require.Equal(t, "1001", ct.Agent)

	ctx := context.Background()
	require.NoError(t, e.s.PhoneHold(ctx, "1001", true))
	require.True(t, notes.call(t, "talking").Held)
	eventually(t, 500, "the caller hears hold audio", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneHold) })
	require.NoError(t, e.s.PhoneHold(ctx, "1001", false))
	eventually(t, 500, "the caller hears the agent again", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneAgent) })

	require.NoError(t, e.s.PhoneMute(ctx, "1001", true))
	eventually(t, 500, "the caller hears silence while muted", func() bool {
		h := heard(c.rtp.packets())
		if len(h) < 10 {
			return false
		}
		for _, pcm := range h[len(h)-10:] {
			if siptest.RMS(pcm) > 50 {
				return false
			}
		}
		return true
	})
	require.NoError(t, e.s.PhoneMute(ctx, "1001", false))
	eventually(t, 500, "the caller hears the agent after unmute", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneAgent) })

	require.NoError(t, e.s.PhoneDigit(ctx, "1001", '5'))
	eventually(t, 200, "the caller gets the key press", func() bool {
		for _, p := range c.rtp.packets() {
			if p.PayloadType == 101 && len(p.Payload) >= 4 && p.Payload[0] == 5 {
				return true
			}
		}
		return false
	})

	require.NoError(t, e.s.PhoneHangup(ctx, "1001"))
	require.Equal(t, "agent", notes.call(t, "ended").Reason)
	eventually(t, 300, "the caller gets BYE", func() bool { return c.byes.Load() > 0 })
	eventually(t, 300, "the contact waits for wrap-up", func() bool {
		ct, err := e.q.Contact(ctx, ring.Contact)
		return err == nil && ct.State == queue.StateWrapUp
	})
	require.ErrorIs(t, e.s.PhoneAnswer(ctx, "1001"), ErrNoCall)

	e.s.ClosePhone("1001")
	_, err = e.s.reg.lookup(ctx, "1001")
	require.ErrorIs(t, err, ErrNotRegistered, "the binding went with the browser phone")
	until, err = e.q.Phone(ctx, "1001")
	require.NoError(t, err)
	require.True(t, until.IsZero())
	require.ErrorIs(t, e.s.PhoneAnswer(ctx, "1001"), ErrPhoneClosed)
}

// An ICE restart mid-call keeps the call (a session that does not come back: TestBrowserPhoneMediaLostRequeues).
func TestBrowserPhoneMediaLost(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.WebRTC.Loopback = true; c.BrowserMediaGrace = 300 * time.Millisecond })
	b, notes := openBrowser(t, e, "1001")
	b.Say(siptest.SineWave(toneAgent, 8000, 8000))
	e.seat("1001")
	c := dial(t, e, "12345", "13800138000", media.PCMU)
	notes.call(t, "ringing")
	require.NoError(t, e.s.PhoneAnswer(context.Background(), "1001"))
	notes.call(t, "talking")
	eventually(t, 500, "the caller hears the agent", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneAgent) })

	// An ICE restart mid-call: the call goes on.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offer, err := b.Offer(ctx, true)
	require.NoError(t, err)
	answer, err := e.s.PhoneOffer(ctx, "1001", offer)
	require.NoError(t, err)
	require.NoError(t, b.SetAnswer(answer))
	b.Say(siptest.SineWave(toneAnswer, 8000, 8000))
	eventually(t, 500, "the caller hears the browser after the ICE restart", func() bool {
		return mostly(lastTone(c.rtp.packets(), 10), toneAnswer)
	})

	time.Sleep(3 * e.cfg.BrowserMediaGrace)
	require.Zero(t, c.byes.Load(), "the call went on")
	_ = notes
}

// An agent's SIP phone puts the call on hold with a re-INVITE (a=sendonly): the caller hears the gateway's hold
// audio, as with the browser phone's hold; a=sendrecv brings the agent back.
func TestSIPPhoneHoldReinvite(t *testing.T) {
	e := newEnv(t)
	ph := newPhone(t, e, "1001", 200*time.Millisecond)
	e.seat("1001")
	c := dial(t, e, "12345", "13800138000", media.PCMU)
	eventually(t, 500, "the caller hears the agent", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneAgent) })
	d := <-ph.sessions
	reinvite := func(dir string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req := sip.NewRequest(sip.INVITE, d.InviteRequest.Contact().Address)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		body := localSDP{id: 7, version: 2, ip: netip.MustParseAddr("127.0.0.1"), port: ph.rtp.port(),
			codecs: []media.Codec{media.PCMU}, eventPT: 101, dir: dir}.marshal()
		req.SetBody(body)
		res, err := d.Do(ctx, req)
		require.NoError(t, err)
		require.Equal(t, 200, res.StatusCode)
		ans, err := parseSDP(res.Body())
		require.NoError(t, err)
		require.Equal(t, answerDir(dir), ans.dir, "the answer's direction answers the phone's")
	}
	reinvite("sendonly")
	eventually(t, 500, "the caller hears hold audio", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneHold) })
	reinvite("sendrecv")
	eventually(t, 500, "the caller hears the agent again", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneAgent) })
}

// The agent's desk (and browser phone) on node B, the caller on node A: A rings the browser through B's SIP
// address like any phone, and the audio crosses nodes both ways by content; the agent hangs up on B, the caller on A
// gets BYE.
func TestBrowserPhoneAcrossNodes(t *testing.T) {
	a := newEnv(t, func(c *Config) { c.WebRTC.Loopback = true })
	b := newEnvOn(t, a.redis, "node-b", func(c *Config) { c.WebRTC.Loopback = true })
	br, notes := openBrowser(t, b, "1001")
	br.Say(siptest.SineWave(toneAgent, 8000, 8000))
	uri, err := a.s.reg.lookup(context.Background(), "1001")
	require.NoError(t, err)
	require.Equal(t, int(b.s.Addr().Port()), uri.Port, "the binding names node B")
	b.seat("1001")
	c := dial(t, a, "12345", "13800138000", media.PCMU)
	ring := notes.call(t, "ringing")
	require.NoError(t, b.s.PhoneAnswer(context.Background(), "1001"))
	notes.call(t, "talking")
	eventually(t, 500, "the browser on B hears the caller on A", func() bool {
		return siptest.HasTone(br.Heard(1600, false), toneCaller)
	})
	eventually(t, 500, "the caller on A hears the browser on B", func() bool {
		return mostly(lastTone(c.rtp.packets(), 10), toneAgent)
	})
	require.NoError(t, b.s.PhoneHangup(context.Background(), "1001"))
	eventually(t, 500, "the caller gets BYE", func() bool { return c.byes.Load() > 0 })
	eventually(t, 300, "the contact waits for wrap-up", func() bool {
		ct, err := a.q.Contact(context.Background(), ring.Contact)
		return err == nil && ct.State == queue.StateWrapUp
	})
}

// The desk goes during a call (its websocket and page session with it) and comes back: OpenPhone again with a new
// media session takes the call back — the caller hears the browser again; the phone_call state is told to the new
// desk. A desk that does not come back within sip.browser_reconnect closes the phone, and the call goes back to its
// queue at its old place (desk_lost): the caller hears hold audio.
func TestBrowserPhoneDeskComesBack(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.WebRTC.Loopback = true; c.BrowserReconnect = 5 * time.Second })
	b, notes := openBrowser(t, e, "1001")
	b.Say(siptest.SineWave(toneAgent, 8000, 8000))
	e.seat("1001")
	c := dial(t, e, "12345", "13800138000", media.PCMU)
	ring := notes.call(t, "ringing")
	require.NoError(t, e.s.PhoneAnswer(context.Background(), "1001"))
	notes.call(t, "talking")
	eventually(t, 500, "the caller hears the agent", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneAgent) })

	e.s.LeavePhone("1001")
	require.NoError(t, b.Close())
	b2, notes2 := openBrowser(t, e, "1001")
	require.Equal(t, "talking", notes2.call(t, "talking").State, "the new desk is told the call is up")
	b2.Say(siptest.SineWave(toneAnswer, 8000, 8000))
	eventually(t, 500, "the caller hears the new session", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneAnswer) })
	eventually(t, 500, "the new session hears the caller", func() bool { return siptest.HasTone(b2.Heard(1600, false), toneCaller) })
	require.Zero(t, c.byes.Load(), "the call went on")
	_ = notes

	e.s.LeavePhone("1001")
	require.NoError(t, b2.Close())
	eventually(t, 1000, "without the desk the call goes back to its queue", func() bool {
		ct, err := e.q.Contact(context.Background(), ring.Contact)
		return err == nil && ct.State == queue.StateWaiting
	})
	st, err := e.q.Status(context.Background(), "1001")
	require.NoError(t, err)
	require.Equal(t, queue.RequeueDeskLost, st.Reason)
	eventually(t, 500, "the caller hears hold audio", func() bool { return mostly(lastTone(c.rtp.packets(), 10), toneHold) })
	require.Zero(t, c.byes.Load(), "the caller is still on the line")
	_, err = e.s.reg.lookup(context.Background(), "1001")
	require.ErrorIs(t, err, ErrNotRegistered)
}
