package siptest

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a helper starts (RTP reader and senders, baresip's control
// reader, process waiters) ends by the time its test's cleanup has run, but
// for sipgo's reader of a UDP connection it made to send a request after its
// pool was cleared (readUDPConnection: a connection created after
// ConnectionPool.Clear is never closed in sipgo v1.7.3; see sip's TestMain).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*TransportUDP).readUDPConnection"))
}
