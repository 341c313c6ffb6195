package siptest

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a helper starts (RTP reader and senders, baresip's control
// reader, process waiters, sipgo's readers) ends by the time its test's
// cleanup has run.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
