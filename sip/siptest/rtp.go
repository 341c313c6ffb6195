package siptest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/sip/media"
	"github.com/pion/rtp"
)

// RTP payload types of G.711.
const (
	PayloadPCMU = 0
	PayloadPCMA = 8
)

// RTPPacket is one packet an RTPRecorder received.
type RTPPacket struct {
	From        netip.AddrPort
	PayloadType uint8
	Marker      bool
	Seq         uint16
	Timestamp   uint32
	SSRC        uint32
	Payload     []byte
}

// RTPRecorder is an RTP endpoint on 127.0.0.1 for tests: it records every
// packet it receives, and can send audio from the same socket (symmetric RTP)
// paced at 20 ms, as a caller's or agent's phone would. Sipp cannot record what
// it receives; use this where a test must check what a party hears.
type RTPRecorder struct {
	t    testing.TB
	conn *net.UDPConn

	mu      sync.Mutex
	packets []RTPPacket
	bad     int           // datagrams that were not RTP
	changed chan struct{} // closed and replaced on each packet

	wg      sync.WaitGroup
	stop    chan struct{}
	stopped sync.Once
}

// NewRTPRecorder listens on a free UDP port on 127.0.0.1 and records until
// the test ends.
func NewRTPRecorder(t testing.TB) *RTPRecorder {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("siptest.NewRTPRecorder: %v", err)
	}
	r := &RTPRecorder{t: t, conn: conn, changed: make(chan struct{}), stop: make(chan struct{})}
	r.wg.Add(1)
	go r.read()
	t.Cleanup(r.Close)
	return r
}

// Close stops sending and receiving. It is called when the test ends.
func (r *RTPRecorder) Close() {
	r.stopped.Do(func() {
		close(r.stop)
		r.conn.Close()
	})
	r.wg.Wait()
}

// Addr is the recorder's address.
func (r *RTPRecorder) Addr() netip.AddrPort {
	return r.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Port is the recorder's UDP port, for the m= line of an SDP.
func (r *RTPRecorder) Port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

func (r *RTPRecorder) read() {
	defer r.wg.Done()
	buf := make([]byte, 2048)
	var p rtp.Packet
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed
		}
		r.mu.Lock()
		if err := p.Unmarshal(buf[:n]); err != nil || p.Version != 2 {
			r.bad++
		} else {
			r.packets = append(r.packets, RTPPacket{
				From: from, PayloadType: p.PayloadType, Marker: p.Marker,
				Seq: p.SequenceNumber, Timestamp: p.Timestamp, SSRC: p.SSRC,
				Payload: append([]byte(nil), p.Payload...),
			})
		}
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}
}

// Packets returns a copy of the packets received so far, in arrival order.
func (r *RTPRecorder) Packets() []RTPPacket {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RTPPacket(nil), r.packets...)
}

// NotRTP counts datagrams received that did not parse as RTP version 2.
func (r *RTPRecorder) NotRTP() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad
}

// WaitFor waits until cond holds for the packets received so far (it is
// checked on every arrival), or ctx ends. ctx bounds a test that would
// otherwise hang when a peer sends nothing; it is not a speed assertion.
func (r *RTPRecorder) WaitFor(ctx context.Context, cond func([]RTPPacket) bool) error {
	for {
		r.mu.Lock()
		ok := cond(r.packets)
		ch := r.changed
		n := len(r.packets)
		r.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-r.stop:
			return errors.New("RTP recorder closed")
		case <-ctx.Done():
			return fmt.Errorf("RTP recorder: condition not met after %d packets: %w", n, context.Cause(ctx))
		}
	}
}

// WaitPackets waits until n packets of payload type pt have arrived.
func (r *RTPRecorder) WaitPackets(ctx context.Context, pt uint8, n int) error {
	return r.WaitFor(ctx, func(ps []RTPPacket) bool { return countPT(ps, pt) >= n })
}

func countPT(ps []RTPPacket, pt uint8) int {
	c := 0
	for _, p := range ps {
		if p.PayloadType == pt {
			c++
		}
	}
	return c
}

// Audio decodes the G.711 packets (PCMU and PCMA) received so far, in arrival
// order, as one 8 kHz signal: 160 samples per 20 ms packet, so sample i is
// about i/8000 s after the first audio packet. Other payload types are left out.
func (r *RTPRecorder) Audio() []int16 { return DecodeG711(r.Packets()) }

// AudioBetween is the part of Audio from offset from to offset to (clamped).
func (r *RTPRecorder) AudioBetween(from, to time.Duration) []int16 {
	return Window(r.Audio(), from, to)
}

// DecodeG711 decodes the PCMU and PCMA packets of ps in order.
func DecodeG711(ps []RTPPacket) []int16 {
	var out []int16
	for _, p := range ps {
		if p.PayloadType == PayloadPCMU || p.PayloadType == PayloadPCMA {
			out = append(out, decodeG711(p.Payload, media.Codec(p.PayloadType))...)
		}
	}
	return out
}

// encodeG711 is pcm encoded by the gateway's G.711 (sip/media), c PCMU or PCMA.
func encodeG711(pcm []int16, c media.Codec) []byte {
	out := make([]byte, len(pcm))
	media.Encode(out, pcm, c)
	return out
}

// decodeG711 is b decoded by the gateway's G.711 (sip/media), c PCMU or PCMA.
func decodeG711(b []byte, c media.Codec) []int16 {
	out := make([]int16, len(b))
	media.Decode(out, b, c)
	return out
}

// Window returns pcm from offset from to offset to at SampleRate, clamped to
// its length.
func Window(pcm []int16, from, to time.Duration) []int16 {
	i := min(max(int(from.Seconds()*SampleRate), 0), len(pcm))
	j := min(max(int(to.Seconds()*SampleRate), i), len(pcm))
	return pcm[i:j]
}

// Digits returns the key presses among the telephone-event packets (payload
// type pt) received so far: one character per event, an event being the
// packets that share an SSRC and a timestamp (RFC 4733 §2.5.1.1), however
// many end packets repeat it.
func (r *RTPRecorder) Digits(pt uint8) string { return Digits(r.Packets(), pt) }

// Digits is RTPRecorder.Digits over a list of packets.
func Digits(ps []RTPPacket, pt uint8) string {
	type key struct{ ssrc, ts uint32 }
	seen := map[key]bool{}
	var out []byte
	for _, p := range ps {
		if p.PayloadType != pt {
			continue
		}
		ev, err := media.ParseEvent(p.Payload)
		if err != nil {
			continue
		}
		k := key{p.SSRC, p.Timestamp}
		if !seen[k] {
			seen[k] = true
			out = append(out, digit(ev.Code))
		}
	}
	return string(out)
}

// Continuity checks that the packets received so far form one stream: one
// SSRC, sequence numbers rising by exactly 1 (mod 2¹⁶), and each audio
// packet's timestamp the previous audio packet's plus its sample count times
// the sequence step between them, except across telephone events, where it
// must only move forward, and on a packet with the marker bit (the first
// after a silence, RFC 3551 4.1), where it may also be later by whole
// frames. It returns one error per break (nil when none).
func (r *RTPRecorder) Continuity() error { return Continuity(r.Packets()) }

// Continuity is RTPRecorder.Continuity over a list of packets.
func Continuity(ps []RTPPacket) error {
	var errs []error
	var prev, prevAudio *RTPPacket
	eventSince := false
	for i := range ps {
		p := &ps[i]
		if prev != nil {
			if p.SSRC != prev.SSRC {
				errs = append(errs, fmt.Errorf("packet %d: SSRC %08x after %08x", i, p.SSRC, prev.SSRC))
			}
			if p.Seq != prev.Seq+1 && !(isEvent(p) && isEvent(prev) && p.Seq == prev.Seq) {
				errs = append(errs, fmt.Errorf("packet %d: seq %d after %d", i, p.Seq, prev.Seq))
			}
		}
		if isAudio(p) {
			if prevAudio != nil {
				step := uint32(p.Seq - prevAudio.Seq)
				want := prevAudio.Timestamp + step*uint32(len(prevAudio.Payload))
				d := int32(p.Timestamp - prevAudio.Timestamp)
				switch {
				case eventSince && d <= 0:
					errs = append(errs, fmt.Errorf("packet %d: timestamp %d not after %d across an event", i, p.Timestamp, prevAudio.Timestamp))
				case !eventSince && p.Marker && int32(p.Timestamp-want) > 0 && (p.Timestamp-want)%uint32(len(prevAudio.Payload)) == 0:
					// a marked packet after a gap of whole frames
				case !eventSince && p.Timestamp != want:
					errs = append(errs, fmt.Errorf("packet %d: timestamp %d, want %d (previous %d + %d×%d)", i, p.Timestamp, want, prevAudio.Timestamp, step, len(prevAudio.Payload)))
				}
			}
			prevAudio = p
			eventSince = false
		} else {
			eventSince = true
		}
		prev = p
		if len(errs) >= 20 {
			errs = append(errs, errors.New("… more breaks left out"))
			break
		}
	}
	return errors.Join(errs...)
}

func isAudio(p *RTPPacket) bool { return p.PayloadType == PayloadPCMU || p.PayloadType == PayloadPCMA }
func isEvent(p *RTPPacket) bool { return !isAudio(p) }

// TelephoneEventPT is the payload type RTPSender uses for RFC 4733 key
// presses, as in the SDP offers of GoDial and the sipp scenarios.
const TelephoneEventPT = 101

// RTPSender is a paced G.711 stream from an RTPRecorder's socket, which can
// interleave RFC 4733 key presses in the same stream (one SSRC, one run of
// sequence numbers), as a phone does.
type RTPSender struct {
	quit chan struct{}
	once sync.Once
	keys chan keyPress
	done chan struct{}
}

type keyPress struct {
	ev   byte
	sent chan struct{}
}

// Stop ends the stream. It returns once the sender has stopped.
func (s *RTPSender) Stop() {
	s.once.Do(func() { close(s.quit) })
	<-s.done
}

// PressKey sends RFC 4733 event ev (0–9, 10 '*', 11 '#') in place of audio:
// 8 packets 20 ms apart with durations 160…1280 (marker on the first, one
// timestamp: that of the audio it replaces), then the end packet three
// times; audio resumes after it with its timestamp moved past the event. It
// returns once the end packets are sent, or with ctx's error.
func (s *RTPSender) PressKey(ctx context.Context, ev byte) error {
	k := keyPress{ev: ev, sent: make(chan struct{})}
	select {
	case s.keys <- k:
	case <-s.done:
		return errors.New("RTP sender stopped")
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	select {
	case <-k.sent:
		return nil
	case <-s.done:
		return errors.New("RTP sender stopped before the key press was sent")
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Send sends pcm to dst from the recorder's socket as G.711 (pt PayloadPCMU
// or PayloadPCMA), 160 samples every 20 ms, looping, with one random SSRC,
// consecutive sequence numbers and timestamps, until Stop or the recorder
// closes.
func (r *RTPRecorder) Send(dst netip.AddrPort, pt uint8, pcm []int16) *RTPSender {
	if pt != PayloadPCMU && pt != PayloadPCMA {
		r.t.Fatalf("siptest: RTPRecorder.Send: payload type %d is not G.711", pt)
	}
	payload := encodeG711(pcm, media.Codec(pt))
	if len(payload) < 160 {
		r.t.Fatalf("siptest: RTPRecorder.Send: %d samples, want at least 160", len(payload))
	}
	s := &RTPSender{quit: make(chan struct{}), keys: make(chan keyPress), done: make(chan struct{})}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(s.done)
		r.sendLoop(s, dst, pt, payload)
	}()
	return s
}

func (r *RTPRecorder) sendLoop(s *RTPSender, dst netip.AddrPort, pt uint8, payload []byte) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	pkt := rtp.Packet{Header: rtp.Header{
		Version: 2, PayloadType: pt, Marker: true,
		SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32(), SSRC: rand.Uint32(),
	}}
	buf := make([]byte, 12+160)
	frame := make([]byte, 160)
	event := make([]byte, 4)
	off := 0
	var key *keyPress
	step := 0 // packets of the current key press sent
	var evTS uint32
	send := func() {
		n, err := pkt.MarshalTo(buf)
		if err == nil {
			_, _ = r.conn.WriteToUDPAddrPort(buf[:n], dst)
		}
	}
	for {
		select {
		case <-s.quit:
			return
		case <-r.stop:
			return
		case <-tick.C:
		}
		if key == nil {
			select {
			case k := <-s.keys:
				key, step, evTS = &k, 0, pkt.Timestamp
			default:
			}
		}
		if key != nil {
			step++
			end := step == dtmfSteps+1
			dur := uint16(160 * step)
			putEvent(event, key.ev, end, dur)
			pkt.PayloadType, pkt.Marker, pkt.Timestamp, pkt.Payload = TelephoneEventPT, step == 1, evTS, event
			copies := 1
			if end {
				copies = 3 // RFC 4733 §2.5.1.4: the end packet three times
			}
			for range copies {
				send()
			}
			pkt.SequenceNumber++
			if end {
				close(key.sent)
				key = nil
				pkt.PayloadType, pkt.Timestamp = pt, evTS+uint32(dur)
			}
			continue
		}
		for i := range frame {
			frame[i] = payload[off]
			off = (off + 1) % len(payload)
		}
		pkt.Payload = frame
		send()
		pkt.Marker = false
		pkt.SequenceNumber++
		pkt.Timestamp += 160
	}
}
