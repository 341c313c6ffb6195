package sip

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/sendfrom"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// Tones the test prompts are made of, so a listener can tell them apart by
// content.
const (
	toneWelcome = 400.0
	toneMenu    = 500.0
	toneHold    = 600.0
	toneAnswer  = 800.0
	toneCaller  = 1000.0
	toneAgent   = 1700.0
	toneRating  = 900.0
	toneThanks  = 1100.0
	toneNotice  = 1300.0
)

// testPrompts are tones instead of words: welcome 400 Hz, menu 500 Hz, hold
// 600 Hz, a hot-topic answer 800 Hz; announcements' parts 300 Hz.
func testPrompts() fstest.MapFS {
	fs := fstest.MapFS{}
	add := func(name string, hz float64, d time.Duration) {
		pcm := siptest.SineWave(hz, int(d*siptest.SampleRate/time.Second), 8000)
		fs["prompts/"+name+".wav"] = &fstest.MapFile{Data: siptest.EncodeWAV(pcm, siptest.SampleRate)}
	}
	add("welcome-12345", toneWelcome, 600*time.Millisecond)
	add("welcome-12315", toneWelcome, 600*time.Millisecond)
	add("menu-12345", toneMenu, 400*time.Millisecond)
	add("hold", toneHold, 2*time.Second)
	add("answer-test", toneAnswer, 400*time.Millisecond)
	add("rating", toneRating, 400*time.Millisecond)
	add("rating-thanks", toneThanks, 300*time.Millisecond)
	add("recording-notice", toneNotice, 400*time.Millisecond)
	add("hot-topic-menu", toneMenu, 300*time.Millisecond)
	for _, n := range []string{"position-next", "position-before", "position-after", "position-more-than",
		"wait-before", "wait-minutes", "wait-under-minute", "invalid", "goodbye", "num-0", "num-1", "num-2", "num-3",
		"num-4", "num-5", "num-6", "num-7", "num-8", "num-9", "num-10", "num-100", "num-1000", "num-liang"} {
		add(n, 300, 100*time.Millisecond)
	}
	return fs
}

// env is a gateway on a real redis-server with one ready agent profile.
type env struct {
	t     *testing.T
	redis *queuetest.Server
	q     *queue.Queue
	s     *Server
	cfg   Config
	stop  func() // stops the node (its server's Run returns) and waits
}

var testLines = map[string]Line{
	"12345": {Number: "12345", Name: "成都市12345政务服务热线", Queue: "general"},
	"12315": {Number: "12315", Name: "12315市场监管投诉举报热线", Queue: "consumer", Priority: 1},
}

func phoneFor(agent, password, realm string) Phone {
	m := md5.Sum([]byte(agent + ":" + realm + ":" + password))
	s := sha256.Sum256([]byte(agent + ":" + realm + ":" + password))
	return Phone{User: agent, Agent: agent, HA1MD5: hex.EncodeToString(m[:]), HA1SHA256: hex.EncodeToString(s[:])}
}

func newEnv(t *testing.T, mod ...func(*Config)) *env {
	t.Helper()
	rs := queuetest.RedisServer(t)
	return newEnvOn(t, rs, "node-a", mod...)
}

func newEnvOn(t *testing.T, rs *queuetest.Server, node string, mod ...func(*Config)) *env {
	t.Helper()
	return newEnvWith(t, rs, node, nil, mod...)
}

// newEnvWith is newEnvOn with params changing the Server's Params (given
// the node's queue) before the server starts.
func newEnvWith(t *testing.T, rs *queuetest.Server, node string, params func(*Params), mod ...func(*Config)) *env {
	t.Helper()
	e, run := newEnvHeld(t, rs, node, params, mod...)
	run()
	return e
}

// newEnvHeld is newEnvWith whose server listens but is not run (nor its
// queue) until run is called.
func newEnvHeld(t *testing.T, rs *queuetest.Server, node string, params func(*Params), mod ...func(*Config)) (*env, func()) {
	t.Helper()
	cfg := Config{Addr: "127.0.0.1:0", AdvertiseIP: "127.0.0.1", RTPPorts: PortRange{Min: 30000, Max: 39999},
		Ring: 50 * time.Millisecond, RingTimeout: 5 * time.Second, MediaTimeout: 10 * time.Second,
		Announce: Announce{First: time.Hour, Every: time.Hour}}
	for _, m := range mod {
		m(&cfg)
	}
	log := zaptest.NewLogger(t)
	q, err := queue.New(rs.Client(t), queue.Options{NodeID: node, RingTimeout: cfg.RingTimeout,
		Queues: []queue.Def{{Name: "general"}, {Name: "consumer", Priority: 1}}, Logger: log.Named("queue")})
	require.NoError(t, err)
	var phones []Phone
	for _, a := range []string{"1001", "1002"} {
		phones = append(phones, phoneFor(a, "demo", "lianxin"))
	}
	p := Params{Config: cfg, Queue: q, Lines: func(n string) (Line, bool) { l, ok := testLines[n]; return l, ok },
		Phones: phones, Prompts: testPrompts(), Redis: rs.Client(t), Prefix: "{lianxin}:", Logger: log.Named("sip")}
	if params != nil {
		params(&p)
	}
	s, err := New(p)
	require.NoError(t, err)
	require.NoError(t, s.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	srvDone := make(chan struct{})
	e := &env{t: t, redis: rs, q: q, s: s, cfg: cfg, stop: func() { cancel(); <-srvDone }}
	return e, func() {
		go func() { defer close(done); _ = q.Run(ctx) }()
		go func() { defer close(srvDone); _ = s.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done; <-srvDone })
	}
}

// seat makes agent ready at a desk (without a browser: straight on the queue).
func (e *env) seat(agent string) *queue.Session {
	e.t.Helper()
	ctx := context.Background()
	sess, err := e.q.Connect(ctx, queue.Profile{ID: agent, Name: agent, Skills: map[string]int{"general": 5, "consumer": 3},
		Capacity: map[queue.Channel]int{queue.ChannelVoice: 1, queue.ChannelSMS: 3}})
	require.NoError(e.t, err)
	require.NoError(e.t, e.q.SetPresence(ctx, agent, sess.ID, queue.PresenceReady, ""))
	return sess
}

// rtpPeer is one end of a test call's media: it sends a tone and records
// what it receives.
type rtpPeer struct {
	conn  *net.UDPConn
	codec media.Codec
	mu    sync.Mutex
	got   []rtp.Packet
	stop  chan struct{}
	keys  chan uint8 // RFC 4733 key presses to send
	wg    sync.WaitGroup
}

func newRTPPeer(t *testing.T, codec media.Codec) *rtpPeer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	p := &rtpPeer{conn: c, codec: codec, stop: make(chan struct{}), keys: make(chan uint8, 8)}
	p.wg.Add(1)
	go p.read()
	t.Cleanup(p.close)
	return p
}

func (p *rtpPeer) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

func (p *rtpPeer) read() {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, err := p.conn.Read(buf)
		if err != nil {
			return
		}
		var pkt rtp.Packet
		if pkt.Unmarshal(append([]byte(nil), buf[:n]...)) == nil {
			p.mu.Lock()
			p.got = append(p.got, pkt)
			p.mu.Unlock()
		}
	}
}

// send plays hz to dst every 20 ms until close.
func (p *rtpPeer) send(dst netip.AddrPort, hz float64) {
	pcm := siptest.SineWave(hz, siptest.SampleRate, 8000) // 1 s
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		h := rtp.Header{Version: 2, PayloadType: uint8(p.codec), SSRC: 0x1234abcd}
		payload := make([]byte, media.FrameSamples)
		var key uint8
		keyStart, keyLeft := uint32(0), 0
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
			if keyLeft == 0 {
				select {
				case key = <-p.keys:
					keyLeft, keyStart = 8, uint32(i*media.FrameSamples)
				default:
				}
			}
			if keyLeft > 0 {
				// A key press as sipp's pcaps send it: the first packet has
				// duration 0; the last three are the end, repeated.
				n := 8 - keyLeft
				dur := uint16(n * media.FrameSamples)
				end := keyLeft <= 3
				if end {
					dur = uint16(5 * media.FrameSamples)
				}
				event := make([]byte, media.EventSize)
				_, _ = media.Event{Code: key, End: end, Volume: 10, Duration: dur}.MarshalTo(event)
				ev := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SSRC: 0x1234abcd, Marker: n == 0,
					SequenceNumber: uint16(i), Timestamp: keyStart}, Payload: event}
				b, _ := ev.Marshal()
				_, _ = p.conn.WriteToUDPAddrPort(b, dst)
				keyLeft--
				continue
			}
			off := (i * media.FrameSamples) % (len(pcm) - media.FrameSamples)
			media.Encode(payload, pcm[off:off+media.FrameSamples], p.codec)
			h.SequenceNumber = uint16(i)
			h.Timestamp = uint32(i * media.FrameSamples)
			pkt := rtp.Packet{Header: h, Payload: payload}
			b, _ := pkt.Marshal()
			_, _ = p.conn.WriteToUDPAddrPort(b, dst)
		}
	}()
}

// press sends one key by RFC 4733 (0–9; 10 is *, 11 is #).
func (p *rtpPeer) press(key uint8) { p.keys <- key }

func (p *rtpPeer) close() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	_ = p.conn.Close()
	p.wg.Wait()
}

func (p *rtpPeer) packets() []rtp.Packet {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]rtp.Packet(nil), p.got...)
}

// heard is the audio received, as PCM per packet.
func heard(pkts []rtp.Packet) [][]int16 {
	out := make([][]int16, 0, len(pkts))
	for _, p := range pkts {
		if p.PayloadType != uint8(media.PCMU) && p.PayloadType != uint8(media.PCMA) {
			continue
		}
		pcm := make([]int16, len(p.Payload))
		media.Decode(pcm, p.Payload, media.Codec(p.PayloadType))
		out = append(out, pcm)
	}
	return out
}

// toneOf names the strongest of the test tones in one packet, or 0.
func toneOf(pcm []int16) float64 {
	best, bestHz := 0.3, 0.0
	for _, hz := range []float64{300, toneWelcome, toneMenu, toneHold, toneAnswer, toneCaller, toneAgent, toneRating,
		toneThanks, toneNotice} {
		if g := siptest.Tone(pcm, hz); g > best {
			best, bestHz = g, hz
		}
	}
	return bestHz
}

// sequence is the succession of tones heard, each run counted once.
func sequence(pkts []rtp.Packet) []float64 {
	var out []float64
	for _, pcm := range heard(pkts) {
		hz := toneOf(pcm)
		if hz == 0 {
			continue
		}
		if len(out) == 0 || out[len(out)-1] != hz {
			out = append(out, hz)
		}
	}
	return out
}

// sdpOffer is a caller's offer.
func sdpOffer(port int, pts ...int) []byte {
	m := fmt.Sprintf("m=audio %d RTP/AVP", port)
	for _, pt := range pts {
		m += fmt.Sprintf(" %d", pt)
	}
	return []byte("v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" + m + " 101\r\n" +
		"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n")
}

// ua is a SIP user agent for tests: a caller or an agent's phone.
type ua struct {
	t    *testing.T
	ua   *sipgo.UserAgent
	srv  *sipgo.Server
	cli  *sipgo.Client
	dlg  *sipgo.DialogUA
	addr netip.AddrPort
	conn net.PacketConn
}

func newUA(t *testing.T, name string) *ua {
	t.Helper()
	u, err := sipgo.NewUA(sipgo.WithUserAgent(name), sipgo.WithUserAgentHostname("127.0.0.1"))
	require.NoError(t, err)
	srv, err := sipgo.NewServer(u)
	require.NoError(t, err)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	port := conn.LocalAddr().(*net.UDPAddr).Port
	laddr := conn.LocalAddr().String()
	// Requests leave from the listener, as a phone's do (sendfrom, the
	// dialog's BYE too): sipgo makes no socket of its own (whose reader it
	// can leave behind).
	cli, err := sipgo.NewClient(u, sipgo.WithClientAddr(laddr))
	require.NoError(t, err)
	from := sendfrom.New(u, conn)
	cli.TxRequester = from
	x := &ua{t: t, ua: u, srv: srv, cli: cli, conn: conn, addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)),
		dlg: &sipgo.DialogUA{Client: cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{User: name, Host: "127.0.0.1", Port: port}}}}
	served := make(chan struct{})
	go func() { defer close(served); _ = from.Serve(srv) }()
	// The reader has ended before the test does (goleak in TestMain).
	t.Cleanup(func() { _ = srv.Close(); from.Close(); <-served; _ = u.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, siptest.Listening(ctx, u, laddr))
	return x
}
