package sip

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no goroutine outlives the package's tests, but for
// one of sipgo's own (v1.7.3): the reader of a UDP connection sipgo made to
// send a request or a response (readUDPConnection). Its pool closes a
// connection on Close only while the connection's reference count is
// positive (ConnectionPool.Clear), and the count goes negative ("UDP ref
// went negative on try close", dozens of times a run), so now and then one
// such reader stays: 2 of this stop's 4 CI runs failed on it alone, its
// creator long gone. Listener readers (ServeUDP's readListenerConnection,
// which sip.Server.Run and the tests' user agents wait for) and every other
// goroutine are still checked.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*TransportUDP).readUDPConnection"))
}
