package siptest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/lianxin/lianxin/sip/sendfrom"
)

// goPeer is a tiny sipgo UAS and registrar that stands in for the gateway in
// these tests: it answers INVITEs (or only rings), sends a tone to the
// caller's SDP address from an RTPRecorder, which records what the caller
// sends, and checks digest REGISTERs for one user.
type goPeer struct {
	t      testing.TB
	addr   netip.AddrPort
	client *sipgo.Client
	dsc    *sipgo.DialogServerCache
	dcc    *sipgo.DialogClientCache
	rec    *RTPRecorder

	ringOnly bool    // answer 180 and never 200
	toneHz   float64 // sent to the caller after the ACK; 0 sends nothing
	// recordRoute adds a Record-Route (to this peer, ;lr) to the 200, as a
	// proxy in front would: the caller's ACK and BYE must then carry Route.
	recordRoute bool
	users       map[string]string // REGISTER digest credentials: user → password

	closing chan struct{} // closed when the test ends: handlers return

	mu       sync.Mutex
	invites  []*sip.Request
	byes     int
	byesFrom []string          // each BYE's source address
	contacts map[string]string // user → registered Contact URI
	regDone  chan string       // user, on each successful REGISTER
	byeDone  chan struct{}
}

func newGoPeer(t testing.TB, ringOnly bool, toneHz float64, opts ...func(*goPeer)) *goPeer {
	t.Helper()
	p := &goPeer{t: t, ringOnly: ringOnly, toneHz: toneHz,
		users:   map[string]string{"1001": "demo", "1002": "demo", "1003": "demo", "1004": "demo", "1005": "demo"},
		closing: make(chan struct{}), contacts: map[string]string{}, regDone: make(chan string, 16), byeDone: make(chan struct{}, 16)}
	for _, o := range opts {
		o(p)
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = conn.LocalAddr().(*net.UDPAddr).AddrPort()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("lianxin-siptest"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	p.client, err = sipgo.NewClient(ua, sipgo.WithClientAddr(p.addr.String()))
	if err != nil {
		t.Fatal(err)
	}
	from := sendfrom.New(ua, conn)
	p.client.TxRequester = from
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "gw", Host: "127.0.0.1", Port: int(p.addr.Port())}}
	p.dsc = sipgo.NewDialogServerCache(p.client, contact)
	p.dcc = sipgo.NewDialogClientCache(p.client, contact)
	p.rec = NewRTPRecorder(t)
	srv.OnInvite(p.onInvite)
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = p.dsc.ReadAck(req, tx) })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := p.dsc.ReadBye(req, tx); err != nil && p.dcc.ReadBye(req, tx) != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			return
		}
		p.mu.Lock()
		p.byes++
		p.byesFrom = append(p.byesFrom, req.Source())
		p.mu.Unlock()
		select {
		case p.byeDone <- struct{}{}:
		default:
		}
	})
	srv.OnRegister(p.onRegister)
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = from.Serve(srv)
	}()
	t.Cleanup(func() {
		close(p.closing)
		from.Close()
		<-served
		_ = ua.Close()
	})
	if err := Listening(boundCtx(t), ua, p.addr.String()); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *goPeer) sdp() []byte {
	return fmt.Appendf(nil, "v=0\r\no=gw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n",
		p.rec.Port())
}

func (p *goPeer) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	p.mu.Lock()
	p.invites = append(p.invites, req)
	p.mu.Unlock()
	dlg, err := p.dsc.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, err.Error(), nil))
		return
	}
	defer dlg.Close()
	if err := dlg.Respond(180, "Ringing", nil); err != nil {
		return
	}
	if p.ringOnly {
		select {
		case <-tx.Done(): // sipgo answers the CANCEL: 200 to it, 487 to the INVITE
		case <-p.closing:
		}
		return
	}
	media, _, err := ParseSDPAudio(req.Body())
	if err != nil {
		_ = dlg.Respond(488, "Not Acceptable Here", nil)
		return
	}
	hdrs := []sip.Header{sip.NewHeader("Content-Type", "application/sdp")}
	if p.recordRoute {
		hdrs = append(hdrs, sip.NewHeader("Record-Route", fmt.Sprintf("<sip:%s;lr>", p.addr)))
	}
	if err := dlg.Respond(200, "OK", p.sdp(), hdrs...); err != nil {
		return
	}
	if p.toneHz > 0 {
		stop := p.rec.Send(media, PayloadPCMU, SineWave(p.toneHz, SampleRate, 12000)).Stop
		defer stop()
	}
	select {
	case <-dlg.Context().Done():
	case <-p.closing:
	}
}

func (p *goPeer) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	chal := &digest.Challenge{Realm: "lianxin-test", Nonce: "n" + strconv.Itoa(int(req.CSeq().SeqNo)), Algorithm: "MD5", QOP: []string{"auth"}}
	h := req.GetHeader("Authorization")
	if h == nil {
		res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", chal.String()))
		_ = tx.Respond(res)
		return
	}
	cred, err := digest.ParseCredentials(h.Value())
	password, known := "", false
	if err == nil {
		password, known = p.users[cred.Username]
	}
	if !known {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
		return
	}
	chal.Nonce = cred.Nonce // single-use nonces are the gateway's business, not this stand-in's
	want, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: cred.URI, Username: cred.Username,
		Password: password, Cnonce: cred.Cnonce, Count: cred.Nc})
	if err != nil || want.Response != cred.Response {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
		return
	}
	c := req.Contact()
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, "No Contact", nil))
		return
	}
	p.mu.Lock()
	p.contacts[cred.Username] = c.Address.String()
	p.mu.Unlock()
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Contact", c.Value()+";expires=60"))
	_ = tx.Respond(res)
	select {
	case p.regDone <- cred.Username:
	default:
	}
}

func (p *goPeer) contact(user string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.contacts[user]
}

func (p *goPeer) lastInvite() *sip.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.invites) == 0 {
		return nil
	}
	return p.invites[len(p.invites)-1]
}

// call places a call from the Go side to uri, with p.rec as its media,
// returns the dialog once answered and acknowledged.
func (p *goPeer) call(ctx context.Context, uri string) (*sipgo.DialogClientSession, netip.AddrPort, error) {
	var recipient sip.Uri
	if err := sip.ParseUri(uri, &recipient); err != nil {
		return nil, netip.AddrPort{}, err
	}
	sess, err := p.dcc.Invite(ctx, recipient, p.sdp(), sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return nil, netip.AddrPort{}, err
	}
	media, _, err := ParseSDPAudio(sess.InviteResponse.Body())
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	return sess, media, sess.Ack(ctx)
}
