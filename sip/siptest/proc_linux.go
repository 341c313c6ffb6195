//go:build linux

package siptest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes cmd killed when the test process dies, even by a panic
// or a timeout that skips the test's cleanup: no peer is left behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
