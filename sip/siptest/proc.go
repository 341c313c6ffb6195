package siptest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// errExited is waitBound's answer when the process ended before it was seen
// listening: a quick UAC can finish its whole scenario that fast.
var errExited = errors.New("exited before it was seen listening")

// proc is a started peer process: its exit is observed by one goroutine that
// owns cmd.Wait and closes done.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's result, set before done closes
}

func startProc(cmd *exec.Cmd) (*proc, error) {
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop signals the process and waits for it, killing it if it has not gone
// after grace.
func (p *proc) stop(sig os.Signal, grace time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process at once and waits for it.
func (p *proc) kill() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// waitBound polls until some socket is bound to UDP port, or listens on TCP
// port when proto is "tcp" (as listed in /proc/net/udp or tcp: probing by
// binding the port ourselves would race with the peer's own bind), or the
// process exits. Bounded by tries, not by a clock.
func (p *proc) waitBound(proto string, port int) error {
	want := fmt.Sprintf(":%04X ", port)
	for range 1000 {
		if p.exited() {
			return errExited
		}
		b, err := os.ReadFile("/proc/net/" + proto)
		if err != nil {
			// Not Linux: no way to look; carry on and let the test see.
			return nil
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 3 && strings.HasSuffix(f[1]+" ", want) && (proto == "udp" || f[3] == "0A") {
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("did not listen on %s port %d after 1000 polls", proto, port)
}

// tail returns the last n bytes of a file, for logs.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	if len(b) > n {
		b = append([]byte("…"), b[len(b)-n:]...)
	}
	return string(b)
}
