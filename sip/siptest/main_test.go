package siptest

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a helper starts (RTP reader and senders, baresip's control
// reader, process waiters) ends by the time its test's cleanup has run, but
// for sipgo's own readers of UDP connections (LeakOptions).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, LeakOptions()...)
}
