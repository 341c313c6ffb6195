// Package sendfrom makes a sipgo user agent send its UDP requests from its
// SIP listener's own socket. Every user agent of the project uses it: the
// gateway, and the tests' callers and phones.
package sendfrom

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Listener sends a user agent's UDP requests (the gateway's INVITEs to
// phones, trunks and transfer targets, their ACKs, BYEs, CANCELs' INVITEs,
// NOTIFYs, OPTIONS; a test caller's INVITE and BYE) from its SIP listener's
// own socket, the address in their Via and Contact. Set it as the client's
// TxRequester.
//
// Left to itself sipgo v1.7.3 sends a UDP request to an address the listener
// has never received from out of a new ephemeral socket with its own reader
// goroutine, keeps both in its pool for that address and closes them only
// when the user agent closes: a trunk reached at an address it never sends
// from, or phones whose port moves behind NAT, each leave a socket and a
// goroutine behind for the node's life, and the peer sees our requests come
// from a port that is not the one we advertise. Setting the request's local
// address makes sipgo take the listener from its pool instead.
// (WithClientConnectionAddr would do the same only for requests built
// without options; a dialog's BYE is built with them, and it would apply to
// TCP too.)
type Listener struct {
	ua  *sipgo.UserAgent
	udp sip.Addr // the listener's address, spelt as sipgo's pool keys it
	key string
	// closed is set when the listener closes: a request then fails instead
	// of binding the freed port anew with a reader nothing would end.
	closed atomic.Bool
}

// Close makes every later request fail with ErrListenerClosed; call it
// before closing the listener.
func (f *Listener) Close() { f.closed.Store(true) }

// ErrListenerClosed is a request made after Close.
var ErrListenerClosed = errors.New("sip: the UDP listener is closed")

// New sends ua's UDP requests from its listener at laddr (as the listener's
// LocalAddr spells it).
func New(ua *sipgo.UserAgent, laddr string) *Listener {
	f := &Listener{ua: ua}
	host, port, err := sip.ParseAddr(laddr)
	if err == nil && port > 0 {
		a := sip.Addr{IP: net.ParseIP(host), Hostname: host, Port: port}
		if a.IP != nil && a.String() == laddr {
			f.udp, f.key = a, laddr
		}
	}
	return f
}

// Request sends req: a transaction, or an ACK straight to the transport.
func (f *Listener) Request(ctx context.Context, req *sip.Request) (sip.ClientTransaction, error) {
	if req.Laddr.IP == nil && f.key != "" && strings.EqualFold(req.Transport(), "udp") {
		if err := f.serving(ctx); err != nil {
			return nil, err
		}
		f.udp.Copy(&req.Laddr)
	}
	if req.IsAck() {
		return nil, f.ua.TransportLayer().WriteMsg(req)
	}
	tx, err := f.ua.TransactionLayer().Request(ctx, req)
	if err != nil {
		return nil, err // not a nil *ClientTx in an interface
	}
	return tx, nil
}

// serving waits until the listener is in sipgo's pool, which its reader
// (sipgo's Serve) does first. A request sent before would leave from a
// socket of sipgo's own, pooled under the peer's address; the peer's answer
// arrives at the listener, whose reader pools the listener under that
// address in its place, and the socket, no longer in the pool, stays open
// with its reader for the node's life (a CI run's leak check found one).
func (f *Listener) serving(ctx context.Context) error {
	for {
		if f.closed.Load() {
			return ErrListenerClosed
		}
		if c := f.ua.TransportLayer().Pool("udp").Get(f.key); c != nil {
			_, _ = c.TryClose() // Get took a reference
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sip: the UDP listener is not serving yet: %w", context.Cause(ctx))
		case <-time.After(time.Millisecond):
		}
	}
}
