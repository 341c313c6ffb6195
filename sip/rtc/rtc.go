// Package rtc is the browser's end of a call: a WebRTC media session (pion/webrtc) per agent, kept open across
// calls, whose audio is a media.Leg like any RTP peer's, so the Bridge, the Pacer and the hold stream serve it
// unchanged. The session carries G.711 (PCMU by default) end to end: Chromium offers PCMU and PCMA at 8 kHz, so
// nothing is transcoded between the caller, the gateway and the browser.
//
// The browser makes the offer (its microphone track, sendrecv) with its candidates gathered, and the session
// answers with all of its own (no trickle ICE): one round trip over the desk websocket. An ICE restart is the same
// exchange again on the same session — the leg, its stream and any bridge go on.
package rtc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/lianxin/lianxin/sip/media"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// Config sets up an Engine.
type Config struct {
	// Codec is the only audio codec the sessions take: media.PCMU (the zero value) or media.PCMA.
	Codec media.Codec
	// Loopback gathers 127.0.0.1 candidates too (tests, a desk on the gateway's own host).
	Loopback bool
	// PublicIPs replace the host candidates' addresses (a gateway behind 1:1 NAT).
	PublicIPs []string
	// PortMin and PortMax bound the UDP ports of ICE (0: any).
	PortMin, PortMax uint16
	Logger           *zap.Logger
}

// Engine makes media sessions.
type Engine struct {
	api   *webrtc.API
	codec media.Codec
	log   *zap.Logger
}

// Errors.
var (
	// ErrNoCodec: the browser's offer has no audio in the engine's codec.
	ErrNoCodec = errors.New("rtc: the offer has no audio in G.711 (PCMU/PCMA)")
	// ErrBadOffer wraps an offer that pion could not take.
	ErrBadOffer = errors.New("rtc: bad offer")
	// ErrClosed: the session is closed.
	ErrClosed = errors.New("rtc: session closed")
)

// NewEngine makes an engine. Its media engine knows one codec and no video; no interceptors run (no NACK, no
// reports to generate per packet): a G.711 stream needs none of them.
func NewEngine(cfg Config) (*Engine, error) {
	if !cfg.Codec.Valid() {
		return nil, fmt.Errorf("rtc: codec %v is not G.711", cfg.Codec)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: capability(cfg.Codec),
		PayloadType: webrtc.PayloadType(cfg.Codec.PayloadType())}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(cfg.Loopback)
	if len(cfg.PublicIPs) > 0 {
		se.SetNAT1To1IPs(cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	if cfg.PortMin != 0 || cfg.PortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.PortMin, cfg.PortMax); err != nil {
			return nil, fmt.Errorf("rtc: ports: %w", err)
		}
	}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
	return &Engine{api: api, codec: cfg.Codec, log: cfg.Logger}, nil
}

// Codec is the engine's codec.
func (e *Engine) Codec() media.Codec { return e.codec }

func capability(c media.Codec) webrtc.RTPCodecCapability {
	mime := webrtc.MimeTypePCMU
	if c == media.PCMA {
		mime = webrtc.MimeTypePCMA
	}
	return webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 8000, Channels: 1}
}

// State is a session's connection state, as the browser's RTCPeerConnection names it.
type State = webrtc.PeerConnectionState

// Session is one browser's media session.
type Session struct {
	e      *Engine
	pc     *webrtc.PeerConnection
	tp     *transport
	leg    *media.Leg
	log    *zap.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex // serialises negotiations
	answered bool
	closed   bool
}

// NewSession opens a session; onState (may be nil) hears each connection state change, from pion's goroutine.
// The session's leg exists at once (it sends and receives nothing until a browser is connected); it is closed
// with the session.
func (e *Engine) NewSession(onState func(State), log *zap.Logger) (*Session, error) {
	if log == nil {
		log = e.log
	}
	pc, err := e.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("rtc: %w", err)
	}
	out, err := webrtc.NewTrackLocalStaticRTP(capability(e.codec), "audio", "lianxin")
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("rtc: %w", err)
	}
	if _, err := pc.AddTrack(out); err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("rtc: %w", err)
	}
	tp := newTransport(out)
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{e: e, pc: pc, tp: tp, log: log, ctx: ctx, cancel: cancel}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			tp.setTrack(tr)
		}
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		log.Debug("media session", zap.Stringer("state", st))
		if onState != nil {
			onState(st)
		}
	})
	// The browser's events are not negotiated (the desk's keypad is sent by the gateway), so EventPT is 0: a
	// caller's key press is not relayed to the browser, whose track would stamp it as audio.
	s.leg = media.NewLeg(media.LegConfig{Conn: tp, Remote: tp.remote(), Codec: e.codec, Logger: log})
	go func() {
		if err := s.leg.Run(ctx); err != nil {
			log.Info("browser leg ended", zap.Error(err))
		}
	}()
	return s, nil
}

// Leg is the session's audio leg, to bridge, hold or play to.
func (s *Session) Leg() *media.Leg { return s.leg }

// Answer takes the browser's offer — the first, or an ICE restart — and returns the answer with every candidate.
func (s *Session) Answer(ctx context.Context, offer string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", ErrClosed
	}
	if !strings.Contains(offer, "m=audio") {
		return "", fmt.Errorf("%w: no audio", ErrBadOffer)
	}
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	answer, err := s.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	gathered := webrtc.GatheringCompletePromise(s.pc)
	if err := s.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	if !s.hasCodec() {
		return "", ErrNoCodec
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	s.answered = true
	return s.pc.LocalDescription().SDP, nil
}

// hasCodec reports whether the audio transceiver sends the engine's codec.
func (s *Session) hasCodec() bool {
	for _, t := range s.pc.GetTransceivers() {
		if t.Kind() != webrtc.RTPCodecTypeAudio || t.Sender() == nil || t.Direction() == webrtc.RTPTransceiverDirectionInactive {
			continue
		}
		for _, c := range t.Sender().GetParameters().Codecs {
			if strings.EqualFold(c.MimeType, capability(s.e.codec).MimeType) {
				return true
			}
		}
	}
	return false
}

// State is the session's connection state now.
func (s *Session) State() State { return s.pc.ConnectionState() }

// Close ends the session and its leg.
func (s *Session) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	_ = s.leg.Close()
	return s.pc.Close()
}
