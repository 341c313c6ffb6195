package rtc

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// transport is a media.Transport over a WebRTC track pair: reads come from the browser's track (the RTP packets
// as sent, after SRTP), writes go to ours (pion rewrites SSRC and payload type to the negotiated ones, and
// protects them).
type transport struct {
	out *webrtc.TrackLocalStaticRTP

	mu       sync.Mutex
	track    *webrtc.TrackRemote
	ready    chan struct{} // closed when track is set
	closed   chan struct{}
	deadline time.Time
	kick     chan struct{} // closed and replaced when the deadline changes
	once     sync.Once
}

// browserAddr stands for the browser in the leg's latching (a track has one source).
var browserAddr = netip.MustParseAddrPort("192.0.2.1:9")

func newTransport(out *webrtc.TrackLocalStaticRTP) *transport {
	return &transport{out: out, ready: make(chan struct{}), closed: make(chan struct{}), kick: make(chan struct{})}
}

func (t *transport) remote() netip.AddrPort { return browserAddr }

func (t *transport) setTrack(tr *webrtc.TrackRemote) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.track != nil {
		return
	}
	t.track = tr
	_ = tr.SetReadDeadline(t.deadline)
	close(t.ready)
}

var errDeadline = fmt.Errorf("rtc: read: %w", os.ErrDeadlineExceeded)
var errClosed = fmt.Errorf("rtc: read: %w", net.ErrClosed)

func (t *transport) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		t.mu.Lock()
		tr, dl, kick := t.track, t.deadline, t.kick
		t.mu.Unlock()
		select {
		case <-t.closed:
			return 0, browserAddr, errClosed
		default:
		}
		if tr != nil {
			n, _, err := tr.Read(b)
			if err == nil {
				return n, browserAddr, nil
			}
			select {
			case <-t.closed:
				return 0, browserAddr, errClosed
			default:
			}
			if errors.Is(err, io.EOF) {
				return 0, browserAddr, errClosed
			}
			if t.expired() {
				return 0, browserAddr, errDeadline
			}
			return 0, browserAddr, err
		}
		var timeout <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, browserAddr, errDeadline
			}
			tm := time.NewTimer(d)
			timeout = tm.C
			defer tm.Stop()
		}
		select {
		case <-t.ready:
		case <-kick:
		case <-t.closed:
			return 0, browserAddr, errClosed
		case <-timeout:
			return 0, browserAddr, errDeadline
		}
	}
}

func (t *transport) expired() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.deadline.IsZero() && !time.Now().Before(t.deadline)
}

func (t *transport) WriteToUDPAddrPort(b []byte, _ netip.AddrPort) (int, error) {
	return t.out.Write(b)
}

func (t *transport) SetReadDeadline(d time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.deadline = d
	close(t.kick)
	t.kick = make(chan struct{})
	if t.track != nil {
		return t.track.SetReadDeadline(d)
	}
	return nil
}

func (t *transport) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4zero} }

func (t *transport) Close() error {
	t.once.Do(func() { close(t.closed) })
	return nil
}
