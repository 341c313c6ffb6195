package media

import "sync"

// Bridge relays each audio packet received by a to b and by b to a, at once (not paced): the payload transcoded by
// table where the codecs differ; SSRC, sequence number and timestamp rewritten to the out-leg's own stream,
// continuous with what it sent before (the first relayed packet continues its timestamps by the time elapsed,
// later ones keep the in-stream's deltas; the marker bit is set on the first). Telephone-events are relayed as
// events with the out-leg's event payload type, or dropped when it negotiated none — never as audio. Whatever the
// legs played stops. unbridge returns both legs to sending nothing; calling it again does nothing.
func Bridge(a, b *Leg) (unbridge func()) {
	a.switchTo(srcBridge, nil, nil, b)
	b.switchTo(srcBridge, nil, nil, a)
	a.peer.Store(b)
	b.peer.Store(a)
	return sync.OnceFunc(func() {
		a.peer.CompareAndSwap(b, nil)
		b.peer.CompareAndSwap(a, nil)
		a.unbridgeFrom(b)
		b.unbridgeFrom(a)
	})
}

// unbridgeFrom stops relaying from's packets, if this leg still does.
func (l *Leg) unbridgeFrom(from *Leg) {
	l.mu.Lock()
	if l.src == srcBridge && l.bridged == from {
		l.switchLocked(srcNone, nil, nil, nil)
	}
	l.mu.Unlock()
}
