package loadsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Phones is the sipp that answers for every agent's phone
// (testdata/sipp/agent-phone.xml), each agent's user registered to it with
// digest by a second sipp (agent-register-many.xml).
type Phones struct {
	Cmd  *exec.Cmd
	Addr string // its SIP address (127.0.0.1:port)
	// Stats is its statistics file (-trace_stat), Errors its error file.
	Stats, Errors string
}

// PhonesConfig says how to start Phones.
type PhonesConfig struct {
	Scenarios string   // testdata/sipp
	Dir       string   // the run's files: phones.{out,err,csv}, users.csv, register.err
	Gateway   string   // the node's SIP address, where the users register
	Agents    []string // the SIP users (agent ids), password Password
	Password  string
	// Vars are agent-phone.xml's variables (answer_ms, hangup_ms, play).
	Vars map[string]string
	// RTPEcho sends the callers' audio back (sipp -rtp_echo; with play 0).
	RTPEcho bool
}

// StartPhones starts the phones' sipp, waits for its SIP port, and
// registers every agent's user to it. The sipp's watchdogs are off: on a
// busy machine sipp's loop is late by more than 500 ms now and then, and
// sipp ends the test after 120 such delays (seen at a load average of 50).
// Stop it with Kill.
func StartPhones(ctx context.Context, c PhonesConfig) (*Phones, error) {
	ports, err := UDPPorts(3)
	if err != nil {
		return nil, err
	}
	p := &Phones{Addr: fmt.Sprintf("127.0.0.1:%d", ports[0]), Stats: filepath.Join(c.Dir, "phones.csv"),
		Errors: filepath.Join(c.Dir, "phones.err")}
	args := []string{"-sf", "agent-phone.xml", "-i", "127.0.0.1", "-p", strconv.Itoa(ports[0]),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(ports[1]), "-cp", strconv.Itoa(ports[2]), "-aa", "-nostdin"}
	args = append(args, NoWatchdog...)
	for _, k := range slices.Sorted(maps.Keys(c.Vars)) {
		args = append(args, "-set", k, c.Vars[k])
	}
	if c.RTPEcho {
		args = append(args, "-rtp_echo")
	}
	args = append(args, "-trace_err", "-error_file", p.Errors, "-trace_stat", "-stf", p.Stats, "-fd", "1")
	p.Cmd = exec.CommandContext(ctx, "sipp", args...)
	p.Cmd.Dir = c.Scenarios
	if err := StartLogged(p.Cmd, filepath.Join(c.Dir, "phones.out")); err != nil {
		return nil, fmt.Errorf("sipp phones: %w", err)
	}
	if err := WaitUDP(ctx, p.Cmd, ports[0]); err != nil {
		p.Kill()
		return nil, fmt.Errorf("sipp phones: %w: %s", err, TailFile(p.Errors))
	}
	users := filepath.Join(c.Dir, "users.csv")
	var ub bytes.Buffer
	ub.WriteString("SEQUENTIAL\n")
	for _, id := range c.Agents {
		fmt.Fprintf(&ub, "%s;%s\n", id, c.Password)
	}
	if err := os.WriteFile(users, ub.Bytes(), 0o600); err != nil {
		p.Kill()
		return nil, err
	}
	rport, err := UDPPort()
	if err != nil {
		p.Kill()
		return nil, err
	}
	cport, err := UDPPort()
	if err != nil {
		p.Kill()
		return nil, err
	}
	regErr := filepath.Join(c.Dir, "register.err")
	reg := exec.CommandContext(ctx, "sipp", c.Gateway, "-sf", "agent-register-many.xml", "-inf", users,
		"-m", strconv.Itoa(len(c.Agents)), "-r", "200", "-l", "200", "-i", "127.0.0.1", "-p", strconv.Itoa(rport),
		"-cp", strconv.Itoa(cport), "-set", "contact", p.Addr, "-nostdin", "-trace_err", "-error_file", regErr)
	reg.Dir = c.Scenarios
	if out, err := reg.CombinedOutput(); err != nil {
		p.Kill()
		return nil, fmt.Errorf("sipp registering %d phones: %v: %s\n%s", len(c.Agents), err, TailFile(regErr), TailBytes(out))
	}
	return p, nil
}

// Kill ends the phones' sipp and waits for it.
func (p *Phones) Kill() {
	if p != nil && p.Cmd != nil && p.Cmd.Process != nil {
		_ = p.Cmd.Process.Kill()
		_ = p.Cmd.Wait()
	}
}

// NoWatchdog are sipp's flags that turn its watchdogs off.
var NoWatchdog = []string{"-watchdog_minor_maxtriggers", "1000000000", "-watchdog_major_maxtriggers", "1000000000"}

// UDPPort is a UDP port free on 127.0.0.1 a moment ago.
func UDPPort() (int, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// UDPPorts is n UDP ports free on 127.0.0.1 a moment ago.
func UDPPorts(n int) ([]int, error) {
	out := make([]int, n)
	for i := range out {
		p, err := UDPPort()
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// StartLogged starts cmd with its output to the file path.
func StartLogged(cmd *exec.Cmd, path string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Start()
	out.Close() // the child has its own descriptor
	return err
}

// WaitUDP waits until cmd's process has port bound (/proc/net/udp), or
// fails when it exits first.
func WaitUDP(ctx context.Context, cmd *exec.Cmd, port int) error {
	hex := fmt.Sprintf(":%04X ", port)
	for range 200 {
		for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
			if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(hex)) {
				return nil
			}
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", cmd.Process.Pid)); err != nil {
			return errors.New("exited")
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fmt.Errorf("port %d not bound after 10 s", port)
}

// SippStats reads the last line of a sipp statistics file (-trace_stat)
// into column → value; nil when there is none.
func SippStats(path string) map[string]string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		return nil
	}
	head, last := strings.Split(lines[0], ";"), strings.Split(lines[len(lines)-1], ";")
	m := map[string]string{}
	for i, h := range head {
		if i < len(last) {
			m[h] = last[i]
		}
	}
	return m
}

// SippCounts summarises a sipp's statistics file: calls created,
// successful, failed.
func SippCounts(path string) string {
	st := SippStats(path)
	if st == nil {
		return "no statistics"
	}
	return fmt.Sprintf("%s calls, %s successful, %s failed", st["TotalCallCreated"], st["SuccessfulCall(C)"], st["FailedCall(C)"])
}

// TailFile is the last 2,000 bytes of a file ("" when unreadable).
func TailFile(path string) string {
	b, _ := os.ReadFile(path)
	return TailBytes(b)
}

// TailBytes is the last 2,000 bytes of b.
func TailBytes(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// CPUSeconds is a process's CPU time so far (or in all, once it has been
// waited for), 0 when unreadable.
func CPUSeconds(cmd *exec.Cmd) float64 {
	if cmd == nil || cmd.Process == nil {
		return 0
	}
	if st := cmd.ProcessState; st != nil {
		return (st.UserTime() + st.SystemTime()).Seconds()
	}
	t, _ := CPUTicks(cmd.Process.Pid)
	return t / 100
}
