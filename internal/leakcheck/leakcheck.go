// Package leakcheck ends a test binary with goleak's check that its tests
// left no goroutine running, made to wait out go-redis's redials.
package leakcheck

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Main runs the tests and, when they pass, fails the run if a goroutine is
// still running (goleak.VerifyTestMain's check), looking twice. After its
// dials failed (a test stopped Redis), go-redis's pool dials again from a
// goroutine that sleeps a second between tries and sees its pool closed
// only after the sleep; goleak's own retries wait less and cannot be set.
// One such goroutine ends within that second; a pool never closed dials for
// ever and is found the second time too.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := leftRunning(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: Errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func leftRunning() error {
	if goleak.Find() == nil {
		return nil
	}
	time.Sleep(1500 * time.Millisecond)
	return goleak.Find()
}
