package siptest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/lianxin/lianxin/sip/sendfrom"
)

// GoCallOptions says how GoDial calls.
type GoCallOptions struct {
	// Target is the gateway, host:port (UDP).
	Target string
	// Number is the dialled number, the request-URI's user (default "12345").
	Number string
	// From is the caller's number, From's user (default "13800138000").
	From string
	// Headers are added to the INVITE (P-Asserted-Identity, Privacy, …).
	Headers []sip.Header
	// Codecs are the G.711 payload types offered, preferred first (default
	// PCMU, PCMA); telephone-event 101 is always offered.
	Codecs []uint8
	// ToneHz is the tone sent once answered, in the codec the answer chose
	// (default CallerToneHz; negative sends nothing).
	ToneHz float64
}

// GoCall is a call placed from the test process by a sipgo UA on its own UDP
// socket, with an RTPRecorder as its media: what the test hears is in Rec.
// It is the Go caller for checks sipp cannot make (sipp does not record).
type GoCall struct {
	// Rec records what the far end sends, and sends the caller's tone.
	Rec *RTPRecorder
	// Media is the far end's RTP address from its answer.
	Media netip.AddrPort
	// PayloadType is the G.711 codec of the answer (first one in its m= line).
	PayloadType uint8
	// Answer is the 200 OK.
	Answer *sip.Response

	t        testing.TB
	ua       *sipgo.UserAgent
	laddr    string // the listener's address, where requests leave from
	sess     *sipgo.DialogClientSession
	sender   *RTPSender // nil when no tone is sent
	stopTone func()
	ended    chan struct{}
	endOnce  sync.Once
	served   chan struct{}
}

// GoDial places a call as opts says and returns once it is answered and
// acknowledged. Cancelling ctx before the answer sends CANCEL (sipgo). A
// final non-2xx answer is an error wrapping *sipgo.ErrDialogResponse. The
// call is hung up (if still up) and its UA closed when the test ends.
func GoDial(ctx context.Context, t testing.TB, opts GoCallOptions) (*GoCall, error) {
	t.Helper()
	if opts.Number == "" {
		opts.Number = "12345"
	}
	if opts.From == "" {
		opts.From = "13800138000"
	}
	if len(opts.Codecs) == 0 {
		opts.Codecs = []uint8{PayloadPCMU, PayloadPCMA}
	}
	if opts.ToneHz == 0 {
		opts.ToneHz = CallerToneHz
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	local := conn.LocalAddr().(*net.UDPAddr)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("lianxin-siptest-caller"))
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &GoCall{Rec: NewRTPRecorder(t), t: t, ua: ua, laddr: local.String(), ended: make(chan struct{}), served: make(chan struct{}), stopTone: func() {}}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		conn.Close()
		return nil, err
	}
	// Requests leave from the listener's socket, which Via names, as the
	// gateway's do (sendfrom: the dialog's BYE too): sipgo then makes no
	// socket of its own, whose reader it can leave behind for good.
	client, err := sipgo.NewClient(ua, sipgo.WithClientAddr(local.String()))
	if err != nil {
		conn.Close()
		return nil, err
	}
	sendFrom := sendfrom.New(ua, conn)
	client.TxRequester = sendFrom
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: opts.From, Host: "127.0.0.1", Port: local.Port}}
	dcc := sipgo.NewDialogClientCache(client, contact)
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := dcc.ReadBye(req, tx); err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			return
		}
		c.end()
	})
	// Re-INVITEs (hold, a changed media address) are answered with the same
	// SDP; OPTIONS and INFO are acknowledged.
	ok := func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	}
	srv.OnOptions(ok)
	srv.OnInfo(ok)
	srv.OnUpdate(ok)
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	body := goCallSDP(c.Rec.Port(), opts.Codecs)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, 200, "OK", body)
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(&contact)
		_ = tx.Respond(res)
	})
	go func() {
		defer close(c.served)
		_ = sendFrom.Serve(srv)
	}()
	t.Cleanup(func() {
		c.stopTone()
		if c.sess != nil {
			select {
			case <-c.ended:
			default:
				hctx, cancel := context.WithTimeout(context.Background(), bound)
				_ = c.sess.Bye(hctx)
				cancel()
			}
			_ = c.sess.Close()
		}
		sendFrom.Close()
		<-c.served
		_ = ua.Close()
	})
	if err := Listening(ctx, ua, local.String()); err != nil {
		return nil, fmt.Errorf("siptest.GoDial: %w", err)
	}

	var recipient sip.Uri
	if err := sip.ParseUri("sip:"+opts.Number+"@"+opts.Target, &recipient); err != nil {
		return nil, fmt.Errorf("siptest.GoDial: target %q: %w", opts.Target, err)
	}
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: opts.From, Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	headers := append([]sip.Header{from, sip.NewHeader("Content-Type", "application/sdp")}, opts.Headers...)
	sess, err := dcc.Invite(ctx, recipient, body, headers...)
	if err != nil {
		return nil, fmt.Errorf("siptest.GoDial: INVITE: %w", err)
	}
	c.sess = sess
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return nil, fmt.Errorf("siptest.GoDial: %w", err)
	}
	c.Answer = sess.InviteResponse
	if c.Media, c.PayloadType, err = ParseSDPAudio(c.Answer.Body()); err != nil {
		return nil, fmt.Errorf("siptest.GoDial: answer: %w", err)
	}
	if err := sess.Ack(ctx); err != nil {
		return nil, fmt.Errorf("siptest.GoDial: ACK: %w", err)
	}
	if opts.ToneHz > 0 {
		c.sender = c.Rec.Send(c.Media, c.PayloadType, SineWave(opts.ToneHz, SampleRate, 12000))
		c.stopTone = c.sender.Stop
	}
	return c, nil
}

// SentFrom is the local address of the UDP connection ua's sipgo keeps for
// peer (host:port): where its requests to peer leave from and its answers
// arrive; "" when it keeps none.
func SentFrom(ua *sipgo.UserAgent, peer string) string {
	c := ua.TransportLayer().Pool("udp").Get(peer)
	if c == nil {
		return ""
	}
	_, _ = c.TryClose() // Get took a reference
	return c.LocalAddr().String()
}

// Listening waits until ua's reader of its UDP listener at addr runs. A UA
// whose requests leave from its listener (sipgo.WithClientConnectionAddr)
// waits for it before its first request: until then the listener is not in
// sipgo's pool, and sipgo would try to bind the port again.
func Listening(ctx context.Context, ua *sipgo.UserAgent, addr string) error {
	for {
		if SentFrom(ua, addr) != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the listener %s did not start: %w", addr, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

func goCallSDP(port int, codecs []uint8) []byte {
	var pts, maps strings.Builder
	for _, pt := range codecs {
		fmt.Fprintf(&pts, " %d", pt)
		name := "PCMU"
		if pt == PayloadPCMA {
			name = "PCMA"
		}
		fmt.Fprintf(&maps, "a=rtpmap:%d %s/8000\r\n", pt, name)
	}
	return fmt.Appendf(nil, "v=0\r\no=citizen 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP%s 101\r\n%sa=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
		port, pts.String(), maps.String())
}

// ParseSDPAudio finds an SDP body's audio address (session or media c= line
// with the m=audio port) and its first payload type that is PCMU or PCMA.
func ParseSDPAudio(body []byte) (netip.AddrPort, uint8, error) {
	var ip netip.Addr
	port, pt := -1, -1
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		if a, ok := strings.CutPrefix(line, "c=IN IP4 "); ok {
			if v, err := netip.ParseAddr(strings.Fields(a + " ")[0]); err == nil {
				ip = v
			}
		}
		if m, ok := strings.CutPrefix(line, "m=audio "); ok && port < 0 {
			f := strings.Fields(m)
			if len(f) < 3 {
				return netip.AddrPort{}, 0, fmt.Errorf("short m= line %q", line)
			}
			p, err := strconv.ParseUint(f[0], 10, 16)
			if err != nil {
				return netip.AddrPort{}, 0, fmt.Errorf("m= port %q", f[0])
			}
			port = int(p)
			for _, s := range f[2:] {
				if s == "0" || s == "8" {
					v, _ := strconv.Atoi(s)
					pt = v
					break
				}
			}
		}
	}
	switch {
	case !ip.IsValid():
		return netip.AddrPort{}, 0, errors.New("SDP without an IPv4 c= line")
	case port <= 0:
		return netip.AddrPort{}, 0, errors.New("SDP without an m=audio port")
	case pt < 0:
		return netip.AddrPort{}, 0, errors.New("SDP offers neither PCMU nor PCMA")
	}
	return netip.AddrPortFrom(ip, uint16(port)), uint8(pt), nil
}

func (c *GoCall) end() { c.endOnce.Do(func() { close(c.ended) }) }

// Ended is closed when the far end hangs up (BYE).
func (c *GoCall) Ended() <-chan struct{} { return c.ended }

// StopTone stops sending the caller's tone (the call stays up).
func (c *GoCall) StopTone() { c.stopTone() }

// PressKey sends RFC 4733 event ev (0–9, 10 '*', 11 '#', payload type 101)
// in the caller's stream, in place of its tone for 180 ms (see
// RTPSender.PressKey). The call must send a tone (ToneHz not negative).
func (c *GoCall) PressKey(ctx context.Context, ev byte) error {
	if c.sender == nil {
		return errors.New("siptest: GoCall.PressKey: the call sends no audio stream (ToneHz < 0)")
	}
	return c.sender.PressKey(ctx, ev)
}

// Lost says the far end is gone (its process was killed): the call sends no
// BYE when the test ends, which would wait for an answer that never comes.
func (c *GoCall) Lost() {
	c.stopTone()
	c.end()
}

// Hangup sends BYE.
func (c *GoCall) Hangup(ctx context.Context) error {
	c.stopTone()
	defer c.end()
	if err := c.sess.Bye(ctx); err != nil {
		return fmt.Errorf("siptest: BYE: %w", err)
	}
	return nil
}
