package sip

import (
	"net"
	"net/netip"
	"sync"
)

// TCP bounds the SIP TCP listener (issue 7 #6: a flood of connections must
// not use up the process's files). Beyond a bound a new connection is
// closed at once; the ones held (phones registered over TCP, trunks) are
// never closed for it. Sources in sip.trusted (trunks, front proxies) have
// no per-source bound.
type TCP struct {
	// MaxConnections held at once. Default 4096.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerSource from one address. Default 256.
	MaxConnectionsPerSource int `yaml:"max_connections_per_source"`
}

// tcpLimiter wraps the SIP TCP listener with TCP's bounds.
type tcpLimiter struct {
	net.Listener
	lim     TCP
	trusted []netip.Prefix

	mu       sync.Mutex
	open     int
	bySource map[netip.Addr]int
	refused  int
}

func newTCPLimiter(ln net.Listener, lim TCP, trusted []netip.Prefix) *tcpLimiter {
	return &tcpLimiter{Listener: ln, lim: lim, trusted: trusted, bySource: map[netip.Addr]int{}}
}

// Accept returns the next connection within the bounds; one beyond them
// is closed.
func (l *tcpLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := netip.Addr{}
		if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
			src = ap.Addr().Unmap()
		}
		if l.take(src) {
			return &limitedConn{Conn: c, l: l, src: src}, nil
		}
		_ = c.Close()
	}
}

func (l *tcpLimiter) take(src netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	perSource := l.lim.MaxConnectionsPerSource > 0 && !l.isTrusted(src)
	if (l.lim.MaxConnections > 0 && l.open >= l.lim.MaxConnections) ||
		(perSource && l.bySource[src] >= l.lim.MaxConnectionsPerSource) {
		l.refused++
		return false
	}
	l.open++
	l.bySource[src]++
	return true
}

func (l *tcpLimiter) isTrusted(a netip.Addr) bool {
	for _, p := range l.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (l *tcpLimiter) release(src netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.bySource[src]--; l.bySource[src] <= 0 {
		delete(l.bySource, src)
	}
}

// stats: connections held and refused so far.
func (l *tcpLimiter) stats() (open, refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.refused
}

// limitedConn frees its place once closed.
type limitedConn struct {
	net.Conn
	l    *tcpLimiter
	once sync.Once
	src  netip.Addr
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.src) })
	return err
}
