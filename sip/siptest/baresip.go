package siptest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BaresipOptions says how to run a baresip phone.
type BaresipOptions struct {
	// SIPAddr is the registrar and outbound proxy (the gateway), host:port.
	// Empty: the phone does not register (it can still dial and answer).
	SIPAddr string
	// User and Password are the account's (default "1001" and "demo").
	User, Password string
	// ListenPort is the phone's SIP port on 127.0.0.1; 0 picks a free one.
	ListenPort int
	// AudioFile is a WAV (8 kHz 16-bit mono) for the phone to send. baresip
	// 1.0.0's aufile does not loop, and when the file ends the phone HANGS
	// UP ("menu: audio error (0,end of file)"): the file's length is the
	// longest call. Empty: a sine of ToneHz lasting AudioSeconds is made.
	AudioFile string
	// ToneHz is the tone sent when AudioFile is empty (default AgentToneHz).
	ToneHz float64
	// AudioSeconds is the length of that tone, so the longest call (default
	// 600).
	AudioSeconds int
	// AutoAnswer answers incoming calls at once (answermode=auto).
	AutoAnswer bool
	// RegisterSeconds is the registration interval asked for (regint;
	// default 60).
	RegisterSeconds int
}

// BaresipPhone is a running headless baresip 1.0.0: modules g711, aufile
// (the audio it sends), aubridge (a player that plays nowhere), sndfile (it
// writes what it hears and what it sends as WAV files), account, menu and
// ctrl_tcp, through which it is commanded and reports its events.
//
// What baresip 1.0.0 does on the wire, seen in these tests: it registers
// Contact <sip:USER-0xADDRESS@127.0.0.1:PORT> (a suffix on the user: INVITE
// the registered Contact as it is, not USER@host); it answers digest MD5 with
// qop=auth; its INVITE offers m=audio RTP/AVP 0 8 101 (PCMU, PCMA,
// telephone-event 0-15) with From <sip:USER@REGISTRAR>; it declines a
// ringing call with 486 Rejected; and it hangs up when its aufile source ends.
type BaresipPhone struct {
	t       testing.TB
	p       *proc
	dir     string
	opts    BaresipOptions
	sipPort int
	ctrl    net.Conn

	mu       sync.Mutex
	events   []BaresipEvent
	changed  chan struct{}
	replies  map[string]chan BaresipReply
	nextTok  int
	readErr  error
	readDone chan struct{}
}

// BaresipEvent is an event baresip's ctrl_tcp module reported.
type BaresipEvent struct {
	Class      string `json:"class"` // "register", "call", …
	Type       string `json:"type"`  // "REGISTER_OK", "CALL_INCOMING", "CALL_ESTABLISHED", "CALL_CLOSED", …
	AccountAOR string `json:"accountaor"`
	Direction  string `json:"direction"`
	PeerURI    string `json:"peeruri"`
	ID         string `json:"id"`
	Param      string `json:"param"`
}

// BaresipReply is ctrl_tcp's answer to a command.
type BaresipReply struct {
	OK   bool   `json:"ok"`
	Data string `json:"data"`
}

// Baresip starts a baresip phone as opts says, with its config in a fresh
// directory, and connects to its ctrl_tcp. It is killed when the test ends;
// if the test failed its log is written to the test.
func Baresip(t testing.TB, opts BaresipOptions) *BaresipPhone {
	t.Helper()
	RequireTools(t, "baresip")
	if opts.User == "" {
		opts.User = "1001"
	}
	if opts.Password == "" {
		opts.Password = "demo"
	}
	if opts.ToneHz == 0 {
		opts.ToneHz = AgentToneHz
	}
	if opts.AudioSeconds == 0 {
		opts.AudioSeconds = 600
	}
	if opts.RegisterSeconds == 0 {
		opts.RegisterSeconds = 60
	}
	// A short directory: sndfile builds its file names in a 128-byte buffer,
	// and t.TempDir's names (with the test's name) can be longer.
	dir, err := os.MkdirTemp("", "baresip")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if opts.AudioFile == "" {
		opts.AudioFile = filepath.Join(dir, "send.wav")
		wav := EncodeWAV(SineWave(opts.ToneHz, opts.AudioSeconds*SampleRate, 12000), SampleRate)
		if err := os.WriteFile(opts.AudioFile, wav, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var lastErr error
	for range 5 {
		b := &BaresipPhone{t: t, dir: dir, opts: opts, sipPort: opts.ListenPort,
			changed: make(chan struct{}), replies: map[string]chan BaresipReply{}, readDone: make(chan struct{})}
		if b.sipPort == 0 {
			b.sipPort = FreeUDPPort(t)
		}
		ctrlPort := FreeUDPPort(t)
		if lastErr = b.start(ctrlPort); lastErr == nil {
			t.Cleanup(b.cleanup)
			return b
		}
		b.p.kill()
		if b.ctrl != nil {
			b.ctrl.Close()
			<-b.readDone
		}
		lastErr = fmt.Errorf("%w\nlog:\n%s", lastErr, tail(b.file("baresip.log"), 3000))
		if opts.ListenPort != 0 {
			break
		}
	}
	t.Fatalf("siptest.Baresip: %v", lastErr)
	return nil
}

func (b *BaresipPhone) file(name string) string { return filepath.Join(b.dir, name) }

func (b *BaresipPhone) config(ctrlPort int) string {
	return fmt.Sprintf(`# written by siptest.Baresip
poll_method		epoll
sip_listen		127.0.0.1:%d
net_interface		127.0.0.1
call_local_timeout	120
call_max_calls		4
audio_player		aubridge,nil
audio_source		aufile,%s
audio_alert		aubridge,nil
ausrc_srate		8000
auplay_srate		8000
ausrc_channels		1
auplay_channels		1
audio_buffer		20-160
rtp_tos			0
rtcp_mux		no
jitter_buffer_delay	1-10
module_path		/usr/lib/baresip/modules
module			g711.so
module			aufile.so
module			aubridge.so
module			sndfile.so
module_app		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:%d
snd_path		%s
`, b.sipPort, b.opts.AudioFile, ctrlPort, b.dir)
}

// bound is how long a helper waits for a peer's answer before it gives up:
// a bound against hanging, never a speed assertion.
const bound = 30 * time.Second

// Account is the phone's account line (the README's example has this shape).
func (b *BaresipPhone) Account() string {
	o := b.opts
	answer := "manual"
	if o.AutoAnswer {
		answer = "auto"
	}
	if o.SIPAddr == "" {
		return fmt.Sprintf("<sip:%s@127.0.0.1:%d;transport=udp>;auth_pass=%s;answermode=%s;regint=0;audio_codecs=PCMU,PCMA\n",
			o.User, b.sipPort, o.Password, answer)
	}
	return fmt.Sprintf("<sip:%s@%s;transport=udp>;auth_pass=%s;answermode=%s;regint=%d;audio_codecs=PCMU,PCMA\n",
		o.User, o.SIPAddr, o.Password, answer, o.RegisterSeconds)
}

func (b *BaresipPhone) start(ctrlPort int) error {
	if err := os.WriteFile(b.file("config"), []byte(b.config(ctrlPort)), 0o644); err != nil {
		return err
	}
	// No account at start: it is created by the uanew command once the
	// control connection is up, so that its REGISTER_OK event is not sent
	// before anyone listens (ctrl_tcp does not replay events).
	if err := os.WriteFile(b.file("accounts"), nil, 0o644); err != nil {
		return err
	}
	// An empty contacts file, or baresip writes a sample one.
	if err := os.WriteFile(b.file("contacts"), nil, 0o644); err != nil {
		return err
	}
	log, err := os.Create(b.file("baresip.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command("baresip", "-f", b.dir)
	cmd.Dir = b.dir
	cmd.Stdout, cmd.Stderr = log, log
	// No stdin: baresip's stdio module is not loaded, and it reads no terminal.
	if b.p, err = startProc(cmd); err != nil {
		return err
	}
	if err := b.p.waitBound("udp", b.sipPort); err != nil {
		return fmt.Errorf("baresip on 127.0.0.1:%d: %w", b.sipPort, err)
	}
	for range 1000 {
		if b.p.exited() {
			return errors.New("baresip exited")
		}
		c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", ctrlPort))
		if err == nil {
			b.ctrl = c
			go b.read()
			ctx, cancel := context.WithTimeout(context.Background(), bound)
			defer cancel()
			_, err := b.Command(ctx, "uanew", strings.TrimSpace(b.Account()))
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("baresip's ctrl_tcp did not listen on 127.0.0.1:%d", ctrlPort)
}

// read owns the ctrl_tcp connection's reading side; it ends when the
// connection closes.
func (b *BaresipPhone) read() {
	defer close(b.readDone)
	r := bufio.NewReader(b.ctrl)
	for {
		msg, err := readNetstring(r)
		if err != nil {
			b.mu.Lock()
			b.readErr = err
			close(b.changed)
			b.changed = make(chan struct{})
			b.mu.Unlock()
			return
		}
		var m struct {
			Event    bool   `json:"event"`
			Response bool   `json:"response"`
			Token    string `json:"token"`
			BaresipEvent
			BaresipReply
		}
		if json.Unmarshal(msg, &m) != nil {
			continue
		}
		b.mu.Lock()
		switch {
		case m.Event:
			b.events = append(b.events, m.BaresipEvent)
		case m.Response:
			if ch, ok := b.replies[m.Token]; ok {
				ch <- m.BaresipReply
				delete(b.replies, m.Token)
			}
		}
		close(b.changed)
		b.changed = make(chan struct{})
		b.mu.Unlock()
	}
}

// readNetstring reads one "LEN:DATA," frame.
func readNetstring(r *bufio.Reader) ([]byte, error) {
	head, err := r.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSuffix(head, ":"))
	if err != nil || n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("bad netstring length %q", head)
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	if buf[n] != ',' {
		return nil, errors.New("netstring without its trailing comma")
	}
	return buf[:n], nil
}

// Command runs a baresip command (a menu command's long name: "dial",
// "hangup", "accept", "reginfo", …) with params and returns its reply.
func (b *BaresipPhone) Command(ctx context.Context, command, params string) (BaresipReply, error) {
	b.mu.Lock()
	b.nextTok++
	tok := strconv.Itoa(b.nextTok)
	ch := make(chan BaresipReply, 1)
	b.replies[tok] = ch
	b.mu.Unlock()
	msg, _ := json.Marshal(map[string]string{"command": command, "params": params, "token": tok})
	if _, err := fmt.Fprintf(b.ctrl, "%d:%s,", len(msg), msg); err != nil {
		return BaresipReply{}, fmt.Errorf("baresip %s: %w", command, err)
	}
	select {
	case r := <-ch:
		if !r.OK {
			return r, fmt.Errorf("baresip %s %s: %s", command, params, r.Data)
		}
		return r, nil
	case <-b.readDone:
		return BaresipReply{}, fmt.Errorf("baresip %s: control connection closed", command)
	case <-ctx.Done():
		return BaresipReply{}, fmt.Errorf("baresip %s: no reply: %w", command, context.Cause(ctx))
	}
}

// Dial calls uri ("sip:12345@127.0.0.1:5060").
func (b *BaresipPhone) Dial(ctx context.Context, uri string) error {
	_, err := b.Command(ctx, "dial", uri)
	return err
}

// Answer accepts the ringing incoming call (a phone without AutoAnswer).
func (b *BaresipPhone) Answer(ctx context.Context) error {
	_, err := b.Command(ctx, "accept", "")
	return err
}

// Hangup ends the current call; on a call still ringing it declines it.
func (b *BaresipPhone) Hangup(ctx context.Context) error {
	_, err := b.Command(ctx, "hangup", "")
	return err
}

// Events returns the events baresip reported so far.
func (b *BaresipPhone) Events() []BaresipEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.events)
}

// WaitEvent waits for the first event of type typ (such as "CALL_ESTABLISHED")
// after the first skip events of that type, and returns it.
func (b *BaresipPhone) WaitEvent(ctx context.Context, typ string, skip int) (BaresipEvent, error) {
	for {
		b.mu.Lock()
		seen := 0
		for _, e := range b.events {
			if e.Type == typ {
				if seen == skip {
					b.mu.Unlock()
					return e, nil
				}
				seen++
			}
		}
		ch, rerr := b.changed, b.readErr
		b.mu.Unlock()
		if rerr != nil {
			return BaresipEvent{}, fmt.Errorf("baresip: waiting for %s: control connection: %w", typ, rerr)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return BaresipEvent{}, fmt.Errorf("baresip: no %s event: %w", typ, context.Cause(ctx))
		}
	}
}

// WaitRegistered waits until the account has registered (REGISTER_OK); a
// REGISTER_FAIL is an error naming the registrar's answer.
func (b *BaresipPhone) WaitRegistered(ctx context.Context) error {
	for {
		b.mu.Lock()
		for _, e := range b.events {
			switch e.Type {
			case "REGISTER_OK":
				b.mu.Unlock()
				return nil
			case "REGISTER_FAIL":
				b.mu.Unlock()
				return fmt.Errorf("baresip: registration of %s failed: %s", e.AccountAOR, e.Param)
			}
		}
		ch, rerr := b.changed, b.readErr
		b.mu.Unlock()
		if rerr != nil {
			return fmt.Errorf("baresip: waiting for registration: control connection: %w", rerr)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("baresip: not registered: %w", context.Cause(ctx))
		}
	}
}

// Addr is the phone's SIP address, 127.0.0.1:port.
func (b *BaresipPhone) Addr() string { return fmt.Sprintf("127.0.0.1:%d", b.sipPort) }

// Recording returns what the phone heard in its latest call (sndfile's
// decode dump), as 8 kHz PCM. Files are complete once the call has closed
// (wait for CALL_CLOSED); before that the WAV header's sizes are not final
// and everything written so far is returned.
func (b *BaresipPhone) Recording() ([]int16, error) { return b.dump("dec") }

// Sent returns what the phone sent in its latest call (sndfile's encode dump).
func (b *BaresipPhone) Sent() ([]int16, error) { return b.dump("enc") }

func (b *BaresipPhone) dump(kind string) ([]int16, error) {
	files, err := filepath.Glob(b.file("dump-*-" + kind + ".wav"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("baresip wrote no %s recording in %s", kind, b.dir)
	}
	slices.Sort(files) // names carry the time, to the second
	w, err := ReadWAV(files[len(files)-1])
	if err != nil {
		return nil, err
	}
	if w.Rate != SampleRate {
		return nil, fmt.Errorf("baresip recorded at %d Hz, want %d", w.Rate, SampleRate)
	}
	return w.Mono(), nil
}

// Log is baresip's output so far.
func (b *BaresipPhone) Log() string { return readOr(b.file("baresip.log")) }

// Stop ends baresip gracefully (SIGTERM: it unregisters and hangs up) and
// waits for it, killing it after grace.
func (b *BaresipPhone) Stop(grace time.Duration) {
	b.p.stop(syscall.SIGTERM, grace)
}

func (b *BaresipPhone) cleanup() {
	b.p.kill()
	if b.ctrl != nil {
		b.ctrl.Close()
		<-b.readDone
	}
	if b.t.Failed() {
		b.t.Logf("baresip %s (account %s), events %+v\nlog:\n%s", b.Addr(), strings.TrimSpace(b.Account()), b.Events(), tail(b.file("baresip.log"), 6000))
	}
}
