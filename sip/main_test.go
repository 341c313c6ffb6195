package sip

import (
	"testing"

	"github.com/lianxin/lianxin/internal/leakcheck"
)

// TestMain checks that no goroutine outlives the package's tests: the
// gateway's and the tests' own user agents send from their listeners, so
// sipgo has no socket of its own whose reader it could leave behind.
func TestMain(m *testing.M) {
	leakcheck.Main(m)
}
