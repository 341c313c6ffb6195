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
	phones  *loadsim.Phones
	callers *exec.Cmd
	ctrl    int // the callers' control port
	calls   []int
	exited  chan struct{} // closed once the callers' sipp has exited
	err     error         // its Wait's
}

// startPhones starts the sipp that answers for every agent's phone and
// registers agents' users (password "load") to it. Without media the
// phones send no RTP.
func (v *voice) startPhones(ctx context.Context, agents []string) error {
	p, err := loadsim.StartPhones(ctx, loadsim.PhonesConfig{Scenarios: v.scen, Dir: v.dir, Gateway: v.gw, Agents: agents,
		Password: "load", Vars: map[string]string{
			"answer_ms": strconv.FormatInt(max(v.o.ring.Milliseconds(), 0), 10),
			"hangup_ms": strconv.FormatInt(max(v.o.talk.Milliseconds(), 1), 10),
			"play":      v.play()}})
	v.phones = p
	return err
}

// play is the scenarios' play variable: "0" for calls without media.
func (v *voice) play() string {
	if v.o.noMedia {
		return "0"
	}
	return "1"
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
	ports, err := loadsim.UDPPorts(3)
	if err != nil {
		return err
	}
	v.ctrl = ports[2]
	args := []string{v.gw, "-sf", "caller-surge.xml", "-s", "12345", "-inf", inf,
		"-m", strconv.Itoa(len(calls)), "-r", "0", "-l", strconv.Itoa(len(calls) + 1),
		"-i", "127.0.0.1", "-p", strconv.Itoa(ports[0]), "-mi", "127.0.0.1", "-mp", strconv.Itoa(ports[1]),
		"-cp", strconv.Itoa(v.ctrl), "-aa", "-nostdin", "-set", "play", v.play()}
	args = append(args, loadsim.NoWatchdog...)
	args = append(args, "-trace_logs", "-log_file", filepath.Join(v.dir, "calls.log"),
		"-trace_err", "-error_file", filepath.Join(v.dir, "callers.err"),
		"-trace_stat", "-stf", filepath.Join(v.dir, "callers.csv"), "-fd", "1")
	v.callers = exec.CommandContext(ctx, "sipp", args...)
	v.callers.Dir = v.scen
	if err := loadsim.StartLogged(v.callers, filepath.Join(v.dir, "callers.out")); err != nil {
		return fmt.Errorf("sipp callers: %w", err)
	}
	v.exited = make(chan struct{})
	go func() { v.err = v.callers.Wait(); close(v.exited) }()
	if err := loadsim.WaitUDP(ctx, v.callers, v.ctrl); err != nil {
		return fmt.Errorf("sipp callers: %w: %s", err, loadsim.TailFile(filepath.Join(v.dir, "callers.err")))
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
			return fmt.Errorf("sipp callers: %w: %s", err, loadsim.TailFile(filepath.Join(v.dir, "callers.err")))
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the phones' sipp (and the callers', if still running).
func (v *voice) stop() {
	if v.callers != nil && v.callers.Process != nil {
		_ = v.callers.Process.Kill()
	}
	v.phones.Kill()
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
