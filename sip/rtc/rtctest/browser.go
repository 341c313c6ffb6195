// Package rtctest has a browser stand-in for tests and load runs: a pion/webrtc peer that offers a G.711 audio
// track as Chromium does, sends a known sound paced at 20 ms, and keeps what it hears.
package rtctest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lianxin/lianxin/sip/media"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Browser is one simulated desk's media side.
type Browser struct {
	pc    *webrtc.PeerConnection
	out   *webrtc.TrackLocalStaticRTP
	codec media.Codec

	mu      sync.Mutex
	heard   []int16 // decoded audio received, in arrival order (capped at keep samples)
	keep    int
	packets atomic.Uint64
	first   chan struct{} // closed at the first packet received
	once    sync.Once

	stop    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
	pcm     atomic.Pointer[[]int16]
}

// NewBrowser makes a peer with one sendrecv audio track in codec (the offer lists PCMU and PCMA, c first, as
// Chromium lists both). It keeps the last keep samples it hears (0: 10 s worth).
func NewBrowser(c media.Codec, keep int) (*Browser, error) {
	if keep <= 0 {
		keep = 10 * 8000
	}
	m := &webrtc.MediaEngine{}
	for _, cc := range []media.Codec{c, other(c)} {
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: capability(cc),
			PayloadType: webrtc.PayloadType(cc)}, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	out, err := webrtc.NewTrackLocalStaticRTP(capability(c), "mic", "browser")
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	if _, err := pc.AddTrack(out); err != nil {
		_ = pc.Close()
		return nil, err
	}
	b := &Browser{pc: pc, out: out, codec: c, keep: keep, first: make(chan struct{}), stop: make(chan struct{})}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		b.wg.Add(1)
		go b.read(tr)
	})
	b.wg.Add(1)
	go b.send()
	return b, nil
}

func other(c media.Codec) media.Codec {
	if c == media.PCMU {
		return media.PCMA
	}
	return media.PCMU
}

func capability(c media.Codec) webrtc.RTPCodecCapability {
	mime := webrtc.MimeTypePCMU
	if c == media.PCMA {
		mime = webrtc.MimeTypePCMA
	}
	return webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 8000, Channels: 1}
}

// Offer makes an offer with every candidate gathered; restart asks for an ICE restart.
func (b *Browser) Offer(ctx context.Context, restart bool) (string, error) {
	var opts *webrtc.OfferOptions
	if restart {
		opts = &webrtc.OfferOptions{ICERestart: true}
	}
	offer, err := b.pc.CreateOffer(opts)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return b.pc.LocalDescription().SDP, nil
}

// SetAnswer takes the gateway's answer.
func (b *Browser) SetAnswer(sdp string) error {
	return b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
}

// WaitConnected waits until the peer connection is connected.
func (b *Browser) WaitConnected(ctx context.Context) error {
	for b.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
		select {
		case <-ctx.Done():
			return fmt.Errorf("rtctest: state %s: %w", b.pc.ConnectionState(), ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// State is the connection state.
func (b *Browser) State() webrtc.PeerConnectionState { return b.pc.ConnectionState() }

// Say sends pcm (8 kHz) in a loop, 160 samples every 20 ms, until Say(nil) or Close.
func (b *Browser) Say(pcm []int16) {
	if len(pcm) < media.FrameSamples {
		b.pcm.Store(nil)
		return
	}
	b.pcm.Store(&pcm)
}

func (b *Browser) send() {
	defer b.wg.Done()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	pk := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: uint8(b.codec), SSRC: rand.Uint32(),
		SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32()}, Payload: make([]byte, media.FrameSamples)}
	pos := 0
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		p := b.pcm.Load()
		if p == nil {
			pk.Header.Timestamp += media.FrameSamples
			continue
		}
		pcm := *p
		if pos+media.FrameSamples > len(pcm) {
			pos = 0
		}
		media.Encode(pk.Payload, pcm[pos:pos+media.FrameSamples], b.codec)
		pos += media.FrameSamples
		_ = b.out.WriteRTP(&pk)
		pk.Header.SequenceNumber++
		pk.Header.Timestamp += media.FrameSamples
	}
}

func (b *Browser) read(tr *webrtc.TrackRemote) {
	defer b.wg.Done()
	buf := make([]byte, 1500)
	var pk rtp.Packet
	pcm := make([]int16, 1500)
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if pk.Unmarshal(buf[:n]) != nil {
			continue
		}
		b.packets.Add(1)
		b.once.Do(func() { close(b.first) })
		c := media.Codec(pk.PayloadType)
		if !c.Valid() {
			continue
		}
		media.Decode(pcm[:len(pk.Payload)], pk.Payload, c)
		b.mu.Lock()
		b.heard = append(b.heard, pcm[:len(pk.Payload)]...)
		if len(b.heard) > 2*b.keep {
			b.heard = append(b.heard[:0], b.heard[len(b.heard)-b.keep:]...)
		}
		b.mu.Unlock()
	}
}

// Packets counts the RTP packets received.
func (b *Browser) Packets() uint64 { return b.packets.Load() }

// First is closed when the first packet arrives.
func (b *Browser) First() <-chan struct{} { return b.first }

// Heard returns the last n samples heard (fewer if fewer arrived) and forgets everything heard so far when reset.
func (b *Browser) Heard(n int, reset bool) []int16 {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.heard
	if len(h) > n {
		h = h[len(h)-n:]
	}
	out := append([]int16(nil), h...)
	if reset {
		b.heard = b.heard[:0]
	}
	return out
}

// Close ends the peer.
func (b *Browser) Close() error {
	b.stopped.Do(func() { close(b.stop) })
	err := b.pc.Close()
	b.wg.Wait()
	if errors.Is(err, webrtc.ErrConnectionClosed) {
		err = nil
	}
	return err
}
