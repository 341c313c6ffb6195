package sip

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

// fromListener sends the gateway's UDP requests (INVITEs to phones, trunks
// and transfer targets, their ACKs, BYEs, CANCELs' INVITEs, NOTIFYs,
// OPTIONS) from its SIP listener's own socket, the address in their Via and
// Contact.
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
type fromListener struct {
	ua  *sipgo.UserAgent
	udp sip.Addr // the listener's address, spelt as sipgo's pool keys it
	key string
	// closed is set when the listener closes: a request then fails instead
	// of binding the freed port anew with a reader nothing would end.
	closed atomic.Bool
}

var errListenerClosed = errors.New("sip: the UDP listener is closed")

func newFromListener(ua *sipgo.UserAgent, laddr string) *fromListener {
	f := &fromListener{ua: ua}
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
func (f *fromListener) Request(ctx context.Context, req *sip.Request) (sip.ClientTransaction, error) {
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
// (started by Run) does first. A request sent before would leave from a
// socket of sipgo's own, pooled under the peer's address; the peer's answer
// arrives at the listener, whose reader pools the listener under that
// address in its place, and the socket, no longer in the pool, stays open
// with its reader for the node's life (a CI run's leak check found one).
func (f *fromListener) serving(ctx context.Context) error {
	for {
		if f.closed.Load() {
			return errListenerClosed
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
