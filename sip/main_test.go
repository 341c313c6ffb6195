package sip

import (
	"testing"

	"github.com/lianxin/lianxin/sip/siptest"
	"go.uber.org/goleak"
)

// TestMain checks that no goroutine outlives the package's tests, but for
// sipgo's readers of the UDP connections the tests' own user agents send
// from (siptest.LeakOptions).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, siptest.LeakOptions()...)
}
