// Package sendfrom serves a sipgo user agent's SIP listener: its UDP
// requests leave from the listener's own socket, and the listener closes
// without leaving a socket of sipgo's own behind. Every user agent of the
// project uses it: the gateway, and the tests' callers and phones.
package sendfrom

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
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
	ua   *sipgo.UserAgent
	gate *gate
	udp  sip.Addr // the listener's address, spelt as sipgo's pool keys it
	key  string
	// closed is set when the listener closes: a request then fails instead
	// of binding the freed port anew with a reader nothing would end.
	closed atomic.Bool
}

// ErrListenerClosed is a request made after Close.
var ErrListenerClosed = errors.New("sip: the UDP listener is closed")

// New serves ua's SIP on the UDP listener conn (see Serve) and sends its
// UDP requests from it. The Listener owns conn: Close closes it.
func New(ua *sipgo.UserAgent, conn net.PacketConn) *Listener {
	f := &Listener{ua: ua, gate: &gate{PacketConn: conn}}
	f.gate.idle = sync.NewCond(&f.gate.mu)
	laddr := conn.LocalAddr().String()
	host, port, err := sip.ParseAddr(laddr)
	if err == nil && port > 0 {
		a := sip.Addr{IP: net.ParseIP(host), Hostname: host, Port: port}
		if a.IP != nil && a.String() == laddr {
			f.udp, f.key = a, laddr
		}
	}
	return f
}

// Serve serves srv's SIP on the listener until Close; it returns when
// sipgo's reader has ended.
func (f *Listener) Serve(srv *sipgo.Server) error { return srv.ServeUDP(f.gate) }

// settle is how long Close keeps the listener's socket open after sipgo's
// reader last handed a packet on (see gate).
const settle = 100 * time.Millisecond

// Close makes every later request fail with ErrListenerClosed, stops taking
// packets and closes the listener's socket (Serve returns then); close the
// user agent after it.
//
// sipgo v1.7.3 hands each request it reads to a goroutine of its own, which
// first looks up a socket to answer on: the listener, pooled under the
// request's source. Once the listener has closed, its reader has taken it
// out of the pool (and the user agent's close empties the pool), so a
// goroutine that runs that late finds none and opens a new socket with a
// reader that nothing ever ends: one socket and one goroutine lost for the
// process's life each time a request arrives while a user agent closes (a
// test closing a phone the gateway is still talking to, the gateway
// stopping while phones refresh). Close therefore first stops the reader
// handing packets on (what arrives now is dropped: the user agent is
// leaving), waits until the last packet it took is handed on, and keeps the
// socket open, still pooled, for settle after that, so that the request's
// goroutine, runnable since, finds it. sipgo gives no way to learn when
// that goroutine has looked: a goroutine not run for settle on end would
// still open a socket.
func (f *Listener) Close() {
	f.closed.Store(true)
	_ = f.gate.close()
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

// gate is the listener's socket as sipgo's reader reads it: once shut it
// drops what arrives, and it knows when the reader last took a packet and
// whether it has handed it on (it has once it is back for the next one).
type gate struct {
	net.PacketConn
	mu      sync.Mutex
	idle    *sync.Cond // the reader is back for the next packet
	shut    bool
	dropped int       // packets taken after shut, left unread by sipgo
	holding bool      // the reader has a packet it has not handed on
	last    time.Time // when the reader last took a packet
}

func (g *gate) ReadFrom(b []byte) (int, net.Addr, error) {
	g.mu.Lock()
	g.holding = false
	g.idle.Broadcast()
	g.mu.Unlock()
	for {
		n, addr, err := g.PacketConn.ReadFrom(b)
		g.mu.Lock()
		if err == nil && g.shut {
			g.dropped++
			g.mu.Unlock()
			continue
		}
		if err == nil {
			g.holding, g.last = true, time.Now()
		}
		g.mu.Unlock()
		return n, addr, err
	}
}

// close shuts the gate, waits until the reader has handed on the packet it
// holds and until settle has passed since it took it, then closes the
// socket.
func (g *gate) close() error {
	g.mu.Lock()
	g.shut = true
	for g.holding {
		g.idle.Wait()
	}
	wait := time.Until(g.last.Add(settle))
	g.mu.Unlock()
	if wait > 0 {
		time.Sleep(wait)
	}
	return g.PacketConn.Close()
}
