package siptest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SippOptions says how to run sipp. Zero values take the defaults written
// beside each field.
type SippOptions struct {
	// Scenario is a file under testdata/sipp ("caller.xml") or an absolute
	// path. sipp runs in the scenario's directory, so the relative paths of
	// rtp_stream and play_pcap_audio in it resolve there.
	Scenario string
	// Target is the peer's host:port ("127.0.0.1:5060"); empty for a UAS.
	Target string
	// Service is the user part of the request URI (-s): the dialled number
	// (12345, 12315) or, for register.xml, the phone's user (1001).
	Service string
	// Transport is sipp's -t: "u1" (UDP, one socket; default) or "t1" (TCP).
	Transport string
	// LocalPort is sipp's SIP port (-p); 0 picks a free one.
	LocalPort int
	// MediaPort is sipp's media socket (-mp): where rtp_stream sends from and
	// -rtp_echo listens; 0 picks a free one. Every call of one sipp shares it.
	MediaPort int
	// Vars are scenario variables (-set NAME VALUE), each documented at the
	// top of its scenario.
	Vars map[string]string
	// Calls is the number of calls before sipp exits (-m; default 1). For a
	// UAS, 0 means until stopped.
	Calls int
	// Rate is new calls per second (-r; default sipp's 10).
	Rate float64
	// Limit is the most calls at once (-l; default sipp's: 3 × rate × call length).
	Limit int
	// RTPEcho echoes RTP received on the media port back to its sender.
	RTPEcho bool
	// AutoAnswer makes sipp answer unexpected INFO, NOTIFY, OPTIONS and
	// UPDATE with 200 (-aa), as a phone would.
	AutoAnswer bool
	// Trace keeps every SIP message sent and received (-trace_msg); see
	// SippRun.Messages. The logs of a failed test include them.
	Trace bool
	// Inject are the lines of an injection file (-inf; sipp reads one line
	// per call, in order), each "field0;field1;…", used as [field0], … in
	// the scenario: e.g. agent-register-many.xml's "1001;demo".
	Inject []string
	// Args are extra command-line arguments.
	Args []string
}

// SippRun is a running sipp.
type SippRun struct {
	t         testing.TB
	p         *proc
	dir       string
	opts      SippOptions
	localPort int
	mediaPort int
	result    *SippResult
}

// SippResult is what sipp reported at exit.
type SippResult struct {
	// ExitCode is sipp's: 0 all calls succeeded, 1 at least one failed, 97
	// stopped by a command or signal, 99 ended with no call processed, 255
	// fatal error, 254 cannot bind its socket; -1 killed by a signal.
	ExitCode int
	// Counters from the last line of the statistics file (cumulative).
	Created, Successful, Failed int
	// Stats is that whole last line, by column name ("FailedMaxUDPRetrans(C)", ...).
	Stats map[string]string
	// Errors is sipp's error file: unexpected messages, retransmission
	// failures, scenario errors.
	Errors string
	// Screen is sipp's last statistics screen.
	Screen string
}

// Sipp starts sipp as opts says and returns once it listens. It fails the
// test if sipp cannot start. When the test ends sipp is killed; if the test
// failed, sipp's errors, screen and (with Trace) messages are logged.
func Sipp(t testing.TB, opts SippOptions) *SippRun {
	t.Helper()
	RequireTools(t, "sipp")
	scen := opts.Scenario
	if scen == "" {
		t.Fatal("siptest.Sipp: no Scenario")
	}
	if !filepath.IsAbs(scen) {
		scen = Testdata(t, "sipp", scen)
	}
	if _, err := os.Stat(scen); err != nil {
		t.Fatalf("siptest.Sipp: %v", err)
	}
	opts.Scenario = scen
	var lastErr error
	for try := range 5 {
		r := &SippRun{t: t, dir: t.TempDir(), opts: opts, localPort: opts.LocalPort, mediaPort: opts.MediaPort}
		if r.localPort == 0 {
			r.localPort = FreeUDPPort(t)
		}
		if r.mediaPort == 0 {
			r.mediaPort = FreeUDPPort(t)
		}
		err := r.start()
		if err == nil {
			t.Cleanup(r.cleanup)
			return r
		}
		lastErr = fmt.Errorf("try %d: %w\nerrors: %s\noutput: %s", try+1, err,
			tail(r.file("errors.log"), 2000), tail(r.file("stdout.log"), 2000))
		if (opts.LocalPort != 0 && opts.MediaPort != 0) || !r.bindFailed() {
			break // a scenario error, or ports the caller chose: retrying cannot help
		}
	}
	t.Fatalf("siptest.Sipp %s: %v", filepath.Base(scen), lastErr)
	return nil
}

// bindFailed tells whether sipp exited because a port was taken: exit code
// 254, or 255 with a bind error (the media socket).
func (r *SippRun) bindFailed() bool {
	if r.p == nil || !r.p.exited() {
		return false
	}
	code := r.p.cmd.ProcessState.ExitCode()
	out := strings.ToLower(readOr(r.file("stdout.log")) + readOr(r.file("errors.log")))
	return code == 254 || (code == 255 && strings.Contains(out, "bind"))
}

func (r *SippRun) file(name string) string { return filepath.Join(r.dir, name) }

func (r *SippRun) args() []string {
	o := r.opts
	var a []string
	if o.Target != "" {
		a = append(a, o.Target)
	}
	transport := o.Transport
	if transport == "" {
		transport = "u1"
	}
	a = append(a,
		"-sf", o.Scenario,
		"-t", transport,
		"-i", "127.0.0.1", "-p", strconv.Itoa(r.localPort),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(r.mediaPort),
		"-nostdin",
		"-trace_err", "-error_file", r.file("errors.log"),
		"-trace_screen", "-screen_file", r.file("screen.log"),
		"-trace_logs", "-log_file", r.file("scenario.log"),
		"-trace_stat", "-stf", r.file("stat.csv"), "-fd", "1",
	)
	if o.Service != "" {
		a = append(a, "-s", o.Service)
	}
	switch {
	case o.Calls > 0:
		a = append(a, "-m", strconv.Itoa(o.Calls))
	case o.Target != "":
		a = append(a, "-m", "1")
	}
	if o.Rate > 0 {
		a = append(a, "-r", strconv.FormatFloat(o.Rate, 'f', -1, 64))
	}
	if o.Limit > 0 {
		a = append(a, "-l", strconv.Itoa(o.Limit))
	}
	if o.RTPEcho {
		a = append(a, "-rtp_echo")
	}
	if o.AutoAnswer {
		a = append(a, "-aa")
	}
	if o.Trace {
		a = append(a, "-trace_msg", "-message_file", r.file("messages.log"))
	}
	if len(o.Inject) > 0 {
		a = append(a, "-inf", r.file("inject.csv"))
	}
	names := make([]string, 0, len(o.Vars))
	for k := range o.Vars {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		a = append(a, "-set", k, o.Vars[k])
	}
	return append(a, o.Args...)
}

func (r *SippRun) start() error {
	if len(r.opts.Inject) > 0 {
		inf := "SEQUENTIAL\n" + strings.Join(r.opts.Inject, "\n") + "\n"
		if err := os.WriteFile(r.file("inject.csv"), []byte(inf), 0o644); err != nil {
			return err
		}
	}
	out, err := os.Create(r.file("stdout.log"))
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command("sipp", r.args()...)
	cmd.Dir = filepath.Dir(r.opts.Scenario)
	cmd.Stdout, cmd.Stderr = out, out
	p, err := startProc(cmd)
	if err != nil {
		return err
	}
	r.p = p
	proto := "udp"
	if strings.HasPrefix(r.opts.Transport, "t") {
		proto = "tcp"
	}
	err = p.waitBound(proto, r.localPort)
	if err == nil {
		err = p.waitBound("udp", r.mediaPort)
	}
	if errors.Is(err, errExited) && !r.bindFailed() {
		return nil // it ran, and is done already: Wait reports how it went
	}
	if err != nil {
		p.kill()
		return fmt.Errorf("sipp %s: %w (exit %d)", strings.Join(cmd.Args[1:], " "), err, p.cmd.ProcessState.ExitCode())
	}
	return nil
}

// Addr is sipp's SIP address, 127.0.0.1:port.
func (r *SippRun) Addr() string { return fmt.Sprintf("127.0.0.1:%d", r.localPort) }

// LocalPort is sipp's SIP port.
func (r *SippRun) LocalPort() int { return r.localPort }

// MediaPort is sipp's media port: the m= line's port of its scenarios.
func (r *SippRun) MediaPort() int { return r.mediaPort }

// Done is closed when sipp has exited.
func (r *SippRun) Done() <-chan struct{} { return r.p.done }

// Wait waits for sipp to exit and returns what it reported. The error says
// why when sipp did not end with every call successful (exit code 0), and
// includes its error file.
func (r *SippRun) Wait() (SippResult, error) {
	<-r.p.done
	return r.finish()
}

// Stop asks sipp to end (SIGUSR1: stop placing calls, let calls in progress
// finish) and waits for it, killing it if it has not gone after grace. A UAS
// that is stopped exits 0 when every call it took succeeded, with its
// counters intact.
func (r *SippRun) Stop(grace time.Duration) (SippResult, error) {
	r.p.stop(syscall.SIGUSR1, grace)
	return r.finish()
}

func (r *SippRun) finish() (SippResult, error) {
	if r.result != nil {
		return *r.result, r.resultErr()
	}
	res := SippResult{
		ExitCode: r.p.cmd.ProcessState.ExitCode(),
		Errors:   readOr(r.file("errors.log")),
		Screen:   readOr(r.file("screen.log")),
	}
	if stats, err := parseSippStat(readOr(r.file("stat.csv"))); err == nil {
		res.Stats = stats
		res.Created, _ = strconv.Atoi(stats["TotalCallCreated"])
		res.Successful, _ = strconv.Atoi(stats["SuccessfulCall(C)"])
		res.Failed, _ = strconv.Atoi(stats["FailedCall(C)"])
	}
	r.result = &res
	return res, r.resultErr()
}

func (r *SippRun) resultErr() error {
	res := r.result
	if res.ExitCode == 0 || (res.ExitCode == 97 && res.Failed == 0) {
		return nil
	}
	return fmt.Errorf("sipp %s exited %d: %d calls, %d successful, %d failed; errors: %s",
		filepath.Base(r.opts.Scenario), res.ExitCode, res.Created, res.Successful, res.Failed, tailString(res.Errors, 3000))
}

// Messages is the SIP trace (with Trace set): every message sent and received.
func (r *SippRun) Messages() string { return readOr(r.file("messages.log")) }

// ScenarioLog is what the scenario's <log> actions wrote.
func (r *SippRun) ScenarioLog() string { return readOr(r.file("scenario.log")) }

func (r *SippRun) cleanup() {
	r.p.kill()
	if !r.t.Failed() {
		return
	}
	r.t.Logf("sipp %s (SIP 127.0.0.1:%d, media %d), exit %d\nerrors:\n%s\nscreen:\n%s\nscenario log:\n%s",
		filepath.Base(r.opts.Scenario), r.localPort, r.mediaPort, r.p.cmd.ProcessState.ExitCode(),
		tail(r.file("errors.log"), 4000), tail(r.file("screen.log"), 3000), tail(r.file("scenario.log"), 2000))
	if r.opts.Trace {
		r.t.Logf("sipp messages:\n%s", tail(r.file("messages.log"), 8000))
	}
}

// parseSippStat reads the last data line of sipp's -trace_stat CSV (fields
// separated by ';', the first line naming them).
func parseSippStat(csv string) (map[string]string, error) {
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) < 2 {
		return nil, errors.New("no statistics line")
	}
	head := strings.Split(strings.TrimRight(lines[0], ";\r"), ";")
	last := strings.Split(strings.TrimRight(lines[len(lines)-1], ";\r"), ";")
	m := make(map[string]string, len(head))
	for i, h := range head {
		if i < len(last) {
			m[h] = last[i]
		}
	}
	return m, nil
}

func readOr(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
