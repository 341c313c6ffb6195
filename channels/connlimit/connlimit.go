// Package connlimit bounds the connections a listener holds, in all and
// per source address, so that a flood of slow or idle connections cannot
// use up the process's files or keep others out (issue 7 #6).
//
// When a bound is reached, the listener first closes the oldest connection
// that is not doing anything useful and never has (not yet through its
// first request: what a slow-connection flood holds), else the oldest idle
// one (between requests), and takes the new one. A connection the server
// has not begun to read is never closed, and its age counts from that
// first read: a burst of accepts (a flood queued in the backlog) cannot
// close a client's new connection before its request is even looked at.
// Only when every connection held is busy (a request or a letter being
// received, a desk's websocket) or not yet read is the new one refused,
// with a short answer of the protocol's own (Refuse). The idle connections
// are so the reserve: a health check, a desk or a letter always gets in
// while a flood only holds connections it must keep opening again.
//
// Connections from trusted sources (a front proxy, loopback health
// checks) do not count against the per-source bound.
package connlimit

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits configure a Listener.
type Limits struct {
	// Max connections held at once.
	Max int
	// PerSource connections from one address (not from Trusted ones).
	PerSource int
	// Trusted sources have no per-source bound (a front proxy's address).
	Trusted []netip.Prefix
	// Refuse writes the protocol's answer to a refused connection (SMTP
	// 421, an HTTP 503) before it is closed. Nil: closed silently.
	Refuse func(net.Conn)
}

// Listener wraps a net.Listener with Limits.
type Listener struct {
	net.Listener
	lim Limits

	mu       sync.Mutex
	conns    map[*Conn]struct{}
	bySource map[netip.Addr]int
	// Evicted and Refused count the connections closed to make room and
	// those turned away.
	evicted, refused int
}

// New wraps ln.
func New(ln net.Listener, lim Limits) *Listener {
	return &Listener{Listener: ln, lim: lim, conns: map[*Conn]struct{}{}, bySource: map[netip.Addr]int{}}
}

// Conn is a connection a Listener accepted.
type Conn struct {
	net.Conn
	l     *Listener
	src   netip.Addr
	since time.Time // when it became idle: first read from, or its last request done
	busy  bool
	// served: it has done useful work (a request, a letter) before; such
	// a connection is closed for a new one only when no connection that
	// never did (what a slow flood holds) is left.
	served bool
	closed bool
	// reading: the server has begun to read it (set under l.mu; an
	// atomic so that Read need not take the lock once it is set). Until
	// then the connection is not evicted.
	reading atomic.Bool
}

// Read marks c as read from before reading: from now on it may be closed
// for a new connection, and its age as an idle one counts from now.
func (c *Conn) Read(p []byte) (int, error) {
	if !c.reading.Load() {
		c.l.mu.Lock()
		if !c.reading.Load() {
			c.since = time.Now()
			c.reading.Store(true)
		}
		c.l.mu.Unlock()
	}
	return c.Conn.Read(p)
}

// SetBusy marks c as doing useful work (a request being served, a letter
// being received, a hijacked websocket): it is not evicted.
func (c *Conn) SetBusy(busy bool) {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	if c.busy && !busy {
		c.since = time.Now()
	}
	c.busy = busy
	c.served = c.served || busy
	if busy {
		c.reading.Store(true)
	}
}

// Close closes the connection and frees its place.
func (c *Conn) Close() error {
	c.l.forget(c)
	err := c.Conn.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Source is the connection's remote address, without the port.
func Source(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func (l *Listener) trusted(a netip.Addr) bool {
	for _, p := range l.lim.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Accept returns the next connection within the limits, evicting an idle
// one to make room or refusing the new one.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := Source(nc)
		c := &Conn{Conn: nc, l: l, src: src} // since: from its first read
		if victim, ok := l.admit(c); ok {
			if victim != nil {
				_ = victim.Conn.Close() // its owner sees a closed connection
			}
			return c, nil
		}
		if l.lim.Refuse != nil {
			_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
			l.lim.Refuse(nc)
		}
		_ = nc.Close()
	}
}

// admit takes c if there is room, or makes room by evicting the oldest
// idle connection (of c's source when that is the bound reached).
func (l *Listener) admit(c *Conn) (victim *Conn, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	perSource := l.lim.PerSource > 0 && !l.trusted(c.src)
	switch {
	case perSource && l.bySource[c.src] >= l.lim.PerSource:
		victim = l.oldestIdle(func(o *Conn) bool { return o.src == c.src })
	case l.lim.Max > 0 && len(l.conns) >= l.lim.Max:
		victim = l.oldestIdle(func(*Conn) bool { return true })
	default:
		l.add(c)
		return nil, true
	}
	if victim == nil {
		l.refused++
		return nil, false
	}
	l.evicted++
	l.remove(victim)
	l.add(c)
	return victim, true
}

func (l *Listener) add(c *Conn) {
	l.conns[c] = struct{}{}
	l.bySource[c.src]++
}

func (l *Listener) remove(c *Conn) {
	if c.closed {
		return
	}
	c.closed = true
	delete(l.conns, c)
	if l.bySource[c.src]--; l.bySource[c.src] <= 0 {
		delete(l.bySource, c.src)
	}
}

func (l *Listener) forget(c *Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.remove(c)
}

// oldestIdle is the connection to close for a new one: the oldest idle one
// that never served anything, else the oldest idle one; never one the
// server has not begun to read.
func (l *Listener) oldestIdle(match func(*Conn) bool) *Conn {
	var old *Conn
	for c := range l.conns {
		if c.busy || !c.reading.Load() || !match(c) {
			continue
		}
		if old == nil || (old.served && !c.served) || (old.served == c.served && c.since.Before(old.since)) {
			old = c
		}
	}
	return old
}

// Stats are a Listener's counts.
type Stats struct {
	Open, Evicted, Refused int
}

// Stats returns the connections held and those evicted and refused so far.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Open: len(l.conns), Evicted: l.evicted, Refused: l.refused}
}

// CloseAll closes every connection held (at shutdown).
func (l *Listener) CloseAll() {
	l.mu.Lock()
	var all []*Conn
	for c := range l.conns {
		all = append(all, c)
	}
	l.mu.Unlock()
	for _, c := range all {
		_ = c.Close()
	}
}

// ConnState is an http.Server's ConnState hook for connections of a
// Listener: a connection serving a request or hijacked (a websocket) is
// busy; one that is new or idle between requests may be evicted.
func ConnState(c net.Conn, busy bool) {
	if lc, ok := c.(*Conn); ok {
		lc.SetBusy(busy)
	}
}

// RealIP serves h with each request's RemoteAddr set to its client's
// address when it comes through a trusted front proxy: the right-most
// address of X-Forwarded-For that is not itself a trusted proxy. A request
// from anyone else keeps its own address, whatever it sends in the header,
// so the header cannot be used to pass for someone else.
func RealIP(trusted []netip.Prefix, h http.Handler) http.Handler {
	if len(trusted) == 0 {
		return h
	}
	l := &Listener{lim: Limits{Trusted: trusted}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !l.trusted(ap.Addr().Unmap()) {
			h.ServeHTTP(w, r)
			return
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a malformed hop: trust nothing before it
			}
			if a = a.Unmap(); !l.trusted(a) || i == 0 {
				r2 := r.Clone(r.Context())
				r2.RemoteAddr = netip.AddrPortFrom(a, 0).String()
				h.ServeHTTP(w, r2)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// ParsePrefixes reads addresses and CIDR prefixes ("10.0.0.0/8",
// "192.0.2.7"); the error names the first bad one.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or a prefix", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// HTTPRefuse answers a refused HTTP connection 503 with a JSON body.
func HTTPRefuse(c net.Conn) {
	const body = `{"error":"busy","message":"too many connections; try again shortly"}` + "\n"
	_, _ = fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"+
		"Retry-After: 5\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}
