//go:build linux

package queuetest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes cmd killed when the test process dies, even by a
// panic or a timeout that skips the test's cleanup: no redis-server is left
// behind on a CI machine.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
