package sip

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/stretchr/testify/require"
)

// phone is an agent's SIP phone in Go: it registers with digest and
// answers after a delay, playing toneAgent and recording what it hears.
type phone struct {
	*ua
	rtp      *rtpPeer
	cache    *sipgo.DialogServerCache
	answer   time.Duration
	contact  atomic.Value // tracking number from X-Lianxin-Contact
	from     atomic.Value // the INVITE's From display name
	sessions chan *sipgo.DialogServerSession
}

func newPhone(t *testing.T, e *env, user string, answerAfter time.Duration) *phone {
	t.Helper()
	return newPhoneTone(t, e, user, answerAfter, toneAgent)
}

// newPhoneTone is newPhone playing hz.
func newPhoneTone(t *testing.T, e *env, user string, answerAfter time.Duration, hz float64) *phone {
	t.Helper()
	p := &phone{ua: newUA(t, user), rtp: newRTPPeer(t, media.PCMU), answer: answerAfter,
		sessions: make(chan *sipgo.DialogServerSession, 4)}
	p.cache = sipgo.NewDialogServerCache(p.cli, p.dlg.ContactHDR)
	// A phone that never answers (answerAfter an hour), or that the test
	// silenced, leaves its INVITE's handler waiting when the test ends: it
	// returns then, before the phone's SIP stack closes (goleak in TestMain:
	// a handler waiting out its hour, and the UDP connection it responded
	// on, outlived the package's tests in CI).
	done := make(chan struct{})
	var (
		mu       sync.Mutex // close(done) and handlers.Add: none is added once Wait may run
		handlers sync.WaitGroup
	)
	t.Cleanup(func() {
		mu.Lock()
		close(done)
		mu.Unlock()
		handlers.Wait()
	})
	p.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		mu.Lock()
		select {
		case <-done:
			mu.Unlock()
			return
		default:
		}
		handlers.Add(1)
		mu.Unlock()
		defer handlers.Done()
		d, err := p.cache.ReadInvite(req, tx)
		if err != nil {
			return
		}
		if h := req.GetHeader("X-Lianxin-Contact"); h != nil {
			p.contact.Store(h.Value())
		}
		p.from.Store(req.From().DisplayName)
		off, err := parseSDP(req.Body())
		if err != nil {
			_ = d.Respond(488, "Not Acceptable Here", nil)
			return
		}
		_ = d.Respond(180, "Ringing", nil)
		select {
		case <-time.After(p.answer):
		case <-d.Context().Done():
			return
		case <-done:
			return
		}
		p.rtp.send(off.remote, hz)
		body := localSDP{id: 7, version: 1, ip: netip.MustParseAddr("127.0.0.1"), port: p.rtp.port(),
			codecs: []media.Codec{media.PCMU}, eventPT: 101}.marshal()
		if err := d.RespondSDP(body); err == nil {
			select {
			case p.sessions <- d:
			case <-done:
			}
		}
	})
	p.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = p.cache.ReadAck(req, tx) })
	p.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) { _ = p.cache.ReadBye(req, tx) })
	p.register(t, e, "demo", 200)
	return p
}

// register sends REGISTER, answering the digest challenge with password,
// and requires the final status want.
func (p *phone) register(t *testing.T, e *env, password string, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	user := p.dlg.ContactHDR.Address.User
	gw := sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(e.s.Addr().Port())}
	req := sip.NewRequest(sip.REGISTER, gw)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1"}, Params: sip.NewParams()})
	req.AppendHeader(&sip.ContactHeader{Address: p.dlg.ContactHDR.Address})
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	res, err := p.cli.Do(ctx, req)
	require.NoError(t, err)
	require.Equal(t, 401, res.StatusCode, "a REGISTER without credentials is challenged")
	res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password})
	require.NoError(t, err)
	require.Equal(t, want, res.StatusCode, res.String())
}

// caller is a citizen's phone calling the gateway.
type caller struct {
	*ua
	rtp   *rtpPeer
	dc    *sipgo.DialogClientSession
	cache *sipgo.DialogClientCache
	byes  atomic.Int32
}

func dial(t *testing.T, e *env, number, from string, codec media.Codec) *caller {
	t.Helper()
	c := &caller{ua: newUA(t, from), rtp: newRTPPeer(t, codec)}
	c.cache = sipgo.NewDialogClientCache(c.cli, c.dlg.ContactHDR)
	c.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		c.byes.Add(1)
		_ = c.cache.ReadBye(req, tx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: number, Host: "127.0.0.1", Port: int(e.s.Addr().Port())})
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: from, Host: "127.0.0.1"}, Params: sip.NewParams()})
	req.From().Params.Add("tag", "c"+from)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(sdpOffer(c.rtp.port(), int(codec)))
	dc, err := c.cache.WriteInvite(ctx, req)
	require.NoError(t, err)
	require.NoError(t, dc.WaitAnswer(ctx, sipgo.AnswerOptions{}))
	require.NoError(t, dc.Ack(ctx))
	ans, err := parseSDP(dc.InviteResponse.Body())
	require.NoError(t, err)
	require.Equal(t, codec, ans.codecs[0], "the gateway answers in the caller's codec")
	c.dc = dc
	c.rtp.send(ans.remote, toneCaller)
	return c
}

func (c *caller) hangup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.dc.Bye(ctx))
}

// eventually polls cond every 20 ms, at most tries times.
func eventually(t *testing.T, tries int, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < tries; i++ {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("never happened: %s", what)
}

func hasTone(pkts [][]int16, hz float64) bool {
	n := 0
	for _, pcm := range pkts {
		if toneOf(pcm) == hz {
			n++
		}
	}
	return n >= 5
}

// TestCallerHearsWelcomeHoldAgent listens to what a caller hears: the
// welcome prompt, then hold audio, then the agent — one stream, continuous
// in sequence and timestamp across every switch — while the agent hears the
// caller; the agent hangs up, the caller gets BYE, the contact waits for
// wrap-up.
func TestCallerHearsWelcomeHoldAgent(t *testing.T) {
	e := newEnv(t)
	ph := newPhone(t, e, "1001", 1500*time.Millisecond)
	e.seat("1001")
	c := dial(t, e, "12345", "13800138000", media.PCMU)

	eventually(t, 500, "the caller hears the agent", func() bool { return hasTone(heard(c.rtp.packets()), toneAgent) })
	eventually(t, 200, "the agent hears the caller", func() bool { return hasTone(heard(ph.rtp.packets()), toneCaller) })

	got := sequence(c.rtp.packets())
	require.GreaterOrEqual(t, len(got), 3, "tones heard: %v", got)
	require.Equal(t, []float64{toneWelcome, toneHold}, got[:2], "welcome, then hold: %v", got)
	require.Equal(t, toneAgent, got[len(got)-1], "the agent last: %v", got)

	pkts := c.rtp.packets()
	for i := 1; i < len(pkts); i++ {
		a, b := pkts[i-1], pkts[i]
		require.Equal(t, a.SSRC, b.SSRC, "one SSRC for the whole call (packet %d)", i)
		require.Equal(t, a.SequenceNumber+1, b.SequenceNumber, "sequence continuous at packet %d", i)
		d := b.Timestamp - a.Timestamp
		require.True(t, d >= 160 && d%160 == 0 && d <= 160*50, "timestamp step %d at packet %d", d, i)
	}

	tn, _ := ph.contact.Load().(string)
	require.True(t, queue.ValidTrackingNo(tn), "the phone was told the tracking number: %q", tn)
	from, _ := ph.from.Load().(string)
	require.True(t, strings.Contains(from, "+8613800138000") && strings.Contains(from, tn), "display name %q", from)
	ct, err := e.q.Contact(context.Background(), tn)
	require.NoError(t, err)
	require.Equal(t, queue.StateAssigned, ct.State)
	require.Equal(t, "1001", ct.Agent)
	require.Equal(t, queue.ChannelVoice, ct.Channel)

	// The agent hangs up: the caller gets BYE and the agent wraps up.
	d := <-ph.sessions
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, d.Bye(ctx))
	eventually(t, 300, "the caller gets BYE", func() bool { return c.byes.Load() > 0 })
	eventually(t, 100, "the contact waits for wrap-up", func() bool {
		ct, err := e.q.Contact(context.Background(), tn)
		return err == nil && ct.State == queue.StateWrapUp
	})
}
