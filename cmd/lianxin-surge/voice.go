package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lianxin/lianxin/internal/loadsim"
)

// The calls of the replay: citizens dialling 12345, placed by one sipp
// (testdata/sipp/caller-surge.xml) at the schedule's rate, each from its own
// number; the agents' phones are one sipp (agent-phone.xml) that rings
// o.ring and answers for every agent, each agent's user registered to it with
// digest (agent-register-many.xml), and hangs up after o.talk. The gateway
// then hangs up the caller (the rating question is off), and the desk,
// offered the call while its phone rang and given it when the phone
// answered, wraps it up once the call has ended.

// callerPhone is the number call i comes from: every call its own citizen,
// so that an offer's citizen.phone names the call.
func callerPhone(i int) string { return fmt.Sprintf("137%08d", i) }

// callIndex reads the replay's index from an offered call's citizen.phone
// (E.164, +86137…); -1 when it is not one of the replay's.
func callIndex(phone string) int {
	s, ok := strings.CutPrefix(phone, "+86137")
	if !ok || len(s) != 8 {
		return -1
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return i
}

// sippDir finds testdata/sipp: o.sippDir, or from the working directory
// up (the repository's root, or a package under it in tests).
func sippDir(o options) (string, error) {
	if o.sippDir != "" {
		return filepath.Abs(o.sippDir)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		d := filepath.Join(dir, "testdata", "sipp")
		if _, err := os.Stat(filepath.Join(d, "caller-surge.xml")); err == nil {
			return d, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("testdata/sipp/caller-surge.xml not found from the working directory up: run from the repository or give -sipp-dir")
		}
		dir = up
	}
}

// voice runs the sipps of the replay's calls. Their watchdogs are off: on
// a busy machine sipp's loop is late by more than 500 ms now and then, and
// sipp ends the test after 120 such delays (seen at a load average of 50).
type voice struct {
	o       options
	scen    string // testdata/sipp
	dir     string // the run's files
	gw      string // the node's SIP address
	phones  *exec.Cmd
	callers *exec.Cmd
	ctrl    int // the callers' control port
	calls   []int
	exited  chan struct{} // closed once the callers' sipp has exited
	err     error         // its Wait's
}

// udpPort is a UDP port free on 127.0.0.1 a moment ago.
func udpPort() (int, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

func udpPorts(n int) ([]int, error) {
	out := make([]int, n)
	for i := range out {
		p, err := udpPort()
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// startPhones starts the sipp that answers for every agent's phone and
// registers agents' users (password "load") to it.
func (v *voice) startPhones(ctx context.Context, agents []string) error {
	ports, err := udpPorts(3)
	if err != nil {
		return err
	}
	v.phones = exec.CommandContext(ctx, "sipp", "-sf", "agent-phone.xml", "-i", "127.0.0.1", "-p", strconv.Itoa(ports[0]),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(ports[1]), "-cp", strconv.Itoa(ports[2]), "-aa", "-nostdin",
		"-watchdog_minor_maxtriggers", "1000000000", "-watchdog_major_maxtriggers", "1000000000",
		"-set", "answer_ms", strconv.FormatInt(max(v.o.ring.Milliseconds(), 0), 10),
		"-set", "hangup_ms", strconv.FormatInt(max(v.o.talk.Milliseconds(), 1), 10),
		"-trace_err", "-error_file", filepath.Join(v.dir, "phones.err"),
		"-trace_stat", "-stf", filepath.Join(v.dir, "phones.csv"), "-fd", "1")
	v.phones.Dir = v.scen
	if err := startLogged(v.phones, filepath.Join(v.dir, "phones.out")); err != nil {
		return fmt.Errorf("sipp phones: %w", err)
	}
	if err := waitUDP(ctx, v.phones, ports[0]); err != nil {
		return fmt.Errorf("sipp phones: %w: %s", err, tailFile(filepath.Join(v.dir, "phones.err")))
	}
	users := filepath.Join(v.dir, "users.csv")
	var ub bytes.Buffer
	ub.WriteString("SEQUENTIAL\n")
	for _, id := range agents {
		fmt.Fprintf(&ub, "%s;load\n", id)
	}
	if err := os.WriteFile(users, ub.Bytes(), 0o600); err != nil {
		return err
	}
	rport, err := udpPort()
	if err != nil {
		return err
	}
	reg := exec.CommandContext(ctx, "sipp", v.gw, "-sf", "agent-register-many.xml", "-inf", users,
		"-m", strconv.Itoa(len(agents)), "-r", "200", "-l", "200", "-i", "127.0.0.1", "-p", strconv.Itoa(rport),
		"-cp", strconv.Itoa(rport+1), "-set", "contact", fmt.Sprintf("127.0.0.1:%d", ports[0]), "-nostdin",
		"-trace_err", "-error_file", filepath.Join(v.dir, "register.err"))
	reg.Dir = v.scen
	if out, err := reg.CombinedOutput(); err != nil {
		return fmt.Errorf("sipp registering %d phones: %v: %s\n%s", len(agents), err,
			tailFile(filepath.Join(v.dir, "register.err")), tailBytes(out))
	}
	return nil
}

// startCallers starts the callers' sipp with a rate of 0: pace sets it.
// calls are the replay's indices of the calls, in the schedule's order.
func (v *voice) startCallers(ctx context.Context, calls []int) error {
	v.calls = calls
	inf := filepath.Join(v.dir, "calls.csv")
	var b bytes.Buffer
	b.WriteString("SEQUENTIAL\n")
	for _, i := range calls {
		fmt.Fprintf(&b, "%s;%d\n", callerPhone(i), i)
	}
	if err := os.WriteFile(inf, b.Bytes(), 0o600); err != nil {
		return err
	}
	ports, err := udpPorts(3)
	if err != nil {
		return err
	}
	v.ctrl = ports[2]
	v.callers = exec.CommandContext(ctx, "sipp", v.gw, "-sf", "caller-surge.xml", "-s", "12345", "-inf", inf,
		"-m", strconv.Itoa(len(calls)), "-r", "0", "-l", strconv.Itoa(len(calls)+1),
		"-i", "127.0.0.1", "-p", strconv.Itoa(ports[0]), "-mi", "127.0.0.1", "-mp", strconv.Itoa(ports[1]),
		"-cp", strconv.Itoa(v.ctrl), "-aa", "-nostdin", "-watchdog_minor_maxtriggers", "1000000000",
		"-watchdog_major_maxtriggers", "1000000000",
		"-trace_logs", "-log_file", filepath.Join(v.dir, "calls.log"),
		"-trace_err", "-error_file", filepath.Join(v.dir, "callers.err"),
		"-trace_stat", "-stf", filepath.Join(v.dir, "callers.csv"), "-fd", "1")
	v.callers.Dir = v.scen
	if err := startLogged(v.callers, filepath.Join(v.dir, "callers.out")); err != nil {
		return fmt.Errorf("sipp callers: %w", err)
	}
	v.exited = make(chan struct{})
	go func() { v.err = v.callers.Wait(); close(v.exited) }()
	if err := waitUDP(ctx, v.callers, v.ctrl); err != nil {
		return fmt.Errorf("sipp callers: %w: %s", err, tailFile(filepath.Join(v.dir, "callers.err")))
	}
	return nil
}

// pace sets the callers' rate every second to the calls the schedule has
// in the second that begins (at: each call's moment from start, in
// order), through sipp's control socket ("cset rate N"); after the last, a
// rate that places whatever sipp has not placed yet.
func (v *voice) pace(ctx context.Context, start time.Time, at []time.Duration) error {
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", v.ctrl))
	if err != nil {
		return err
	}
	defer conn.Close()
	set := func(rate int) error {
		_, err := fmt.Fprintf(conn, "cset rate %d\n", rate)
		return err
	}
	j, peak := 0, 1
	for k := time.Duration(0); j < len(at); k += time.Second {
		n := 0
		for j < len(at) && at[j] < k+time.Second {
			j++
			n++
		}
		peak = max(peak, n)
		select {
		case <-time.After(time.Until(start.Add(k))):
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := set(n); err != nil {
			return err
		}
	}
	select {
	case <-time.After(time.Until(start.Add(at[len(at)-1]).Add(time.Second))):
	case <-ctx.Done():
		return ctx.Err()
	}
	return set(max(peak, 20))
}

// wait waits for the callers' sipp to end (every call over).
func (v *voice) wait(ctx context.Context) error {
	select {
	case <-v.exited:
		if err := v.err; err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() == 1 {
				return nil // some calls failed: the log and the counts say which
			}
			return fmt.Errorf("sipp callers: %w: %s", err, tailFile(filepath.Join(v.dir, "callers.err")))
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the phones' sipp (and the callers', if still running).
func (v *voice) stop() {
	for _, c := range []*exec.Cmd{v.callers, v.phones} {
		if c != nil && c.Process != nil {
			_ = c.Process.Kill()
		}
	}
	if v.phones != nil && v.phones.Process != nil {
		_ = v.phones.Wait()
	}
	if v.exited != nil {
		<-v.exited
	}
}

// callEvent is one line of the callers' log (caller-surge.xml).
type callEvent struct {
	kind string // invite, answer, refused, bye, abandon
	i    int
	at   time.Time
}

// readCallLog reads the callers' log.
func (v *voice) readCallLog() ([]callEvent, error) {
	f, err := os.Open(filepath.Join(v.dir, "calls.log"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []callEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		i, err := strconv.Atoi(fs[1])
		if err != nil {
			continue
		}
		ev := callEvent{kind: fs[0], i: i}
		if len(fs) >= 4 {
			s, _ := strconv.ParseFloat(fs[2], 64)
			us, _ := strconv.ParseFloat(fs[3], 64)
			ev.at = time.Unix(int64(s), int64(us)*1000)
		}
		out = append(out, ev)
	}
	return out, sc.Err()
}

// sippStats reads the last line of a sipp statistics file (-trace_stat).
func sippStats(path string) map[string]string {
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

func startLogged(cmd *exec.Cmd, path string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Start()
	out.Close() // the child has its own descriptor
	return err
}

// waitUDP waits until cmd's process has port bound (/proc/net/udp), or
// fails when it exits first.
func waitUDP(ctx context.Context, cmd *exec.Cmd, port int) error {
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

func tailFile(path string) string {
	b, _ := os.ReadFile(path)
	return tailBytes(b)
}

func tailBytes(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// cpuSeconds is a process's CPU time so far (or in all, once it has been
// waited for), 0 when unreadable.
func cpuSeconds(cmd *exec.Cmd) float64 {
	if cmd == nil || cmd.Process == nil {
		return 0
	}
	if st := cmd.ProcessState; st != nil {
		return (st.UserTime() + st.SystemTime()).Seconds()
	}
	t, _ := loadsim.CPUTicks(cmd.Process.Pid)
	return t / 100
}
