package siptest

import "go.uber.org/goleak"

// LeakOptions are goleak's exceptions for tests that run sipgo user agents:
// the reader of a UDP connection sipgo (v1.7.3) made to send a request from
// an address that is not a listener (readUDPConnection). The gateway sends
// from its listener, but the tests' own user agents do not, and sipgo closes
// such a connection only when its user agent closes: one made after that (a
// request sent while the user agent closes) is never closed. Listener
// readers and every other goroutine are still checked.
func LeakOptions() []goleak.Option {
	return []goleak.Option{goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*TransportUDP).readUDPConnection")}
}
