package media

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"
)

// A PortPool hands out UDP sockets for RTP on even ports of a configured range, cycling through it from a random
// start so a port just freed is not reused at once, and skipping ports in use (by us or anyone else). The odd port
// above each (RTCP) is left free. It is safe for concurrent use.
type PortPool struct {
	ip       netip.Addr
	min, max int // even min; max may be odd

	mu   sync.Mutex
	next int
}

// NewPortPool makes a pool over the even ports of [min, max] on ip.
func NewPortPool(ip netip.Addr, min, max int) (*PortPool, error) {
	if !ip.IsValid() {
		return nil, errors.New("media: RTP port pool needs an IP address")
	}
	if min%2 == 1 {
		min++
	}
	if min < 1024 || max > 65535 || min > max {
		return nil, fmt.Errorf("media: RTP port range %d-%d: want an even port within 1024-65535 and min <= max", min, max)
	}
	p := &PortPool{ip: ip, min: min, max: max}
	// Start anywhere in the range: a restarted node starting at min again would hand its first calls the ports
	// its last calls had, which their far ends may still be streaming to.
	p.next = min + 2*rand.IntN(p.Size())
	return p, nil
}

// Size is the number of ports the pool can hand out.
func (p *PortPool) Size() int { return (p.max-p.min)/2 + 1 }

// Listen binds the next free even port of the range. When every port is in use the error wraps ErrPortsExhausted
// and names the range.
func (p *PortPool) Listen() (*net.UDPConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range p.Size() {
		port := p.next
		p.next += 2
		if p.next > p.max {
			p.next = p.min
		}
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("media: listen for RTP on %s: %w", netip.AddrPortFrom(p.ip, uint16(port)), err)
		}
	}
	return nil, fmt.Errorf("%w: every even port of %s:%d-%d is in use", ErrPortsExhausted, p.ip, p.min, p.max)
}
