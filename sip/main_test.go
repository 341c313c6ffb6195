package sip

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no goroutine outlives the package's tests, but for
// one of sipgo's own (v1.7.3): the reader of a UDP connection sipgo made to
// send a request from an address that is not a listener
// (readUDPConnection). The gateway sends from its listener (fromListener),
// but the tests' own user agents do not, and sipgo closes such a connection
// only when its user agent closes: one made after that (a request sent
// while the user agent closes) is never closed, its creator long gone.
// Listener readers (ServeUDP's readListenerConnection, which sip.Server.Run
// and the tests' user agents wait for) and every other goroutine are still
// checked.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*TransportUDP).readUDPConnection"))
}
