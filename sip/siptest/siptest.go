// Package siptest drives real SIP peers in tests: sipp (Debian sip-tester
// 3.6.1) with the scenarios under testdata/sipp, baresip 1.0.0 as an agent's
// phone, and RTPRecorder, a Go RTP endpoint that records what it receives and
// checks it by content (G.711 decoding and Goertzel tone detection) and by
// continuity (sequence numbers and timestamps). G.711 and RFC 4733 payloads
// are coded by the gateway's own sip/media, which its tests check against
// reference tables and which sipp's and baresip's own codecs meet in the
// tests here.
//
// Everything a helper starts is stopped in t.Cleanup; when a test fails the
// peers' logs are written to it. Tools that are missing fail the test (they do
// not skip it): run the README's test command, which installs them.
//
// A caller to the gateway, bridged to a baresip agent phone, checked by
// content both ways:
//
//	phone := siptest.Baresip(t, siptest.BaresipOptions{SIPAddr: gw, User: "1001", Password: "demo", AutoAnswer: true})
//	if err := phone.WaitRegistered(ctx); err != nil { t.Fatal(err) }
//	caller := siptest.Sipp(t, siptest.SippOptions{Scenario: "caller.xml", Target: gw, Service: "12345",
//		Vars: map[string]string{"hold_ms": "5000"}})
//	res, err := caller.Wait() // err says why unless every call succeeded
//	phone.WaitEvent(ctx, "CALL_CLOSED", 0)
//	heard, _ := phone.Recording()
//	siptest.HasTone(heard, siptest.CallerToneHz) // the agent heard the caller
//
// What a caller hears is recorded by an RTPRecorder used as the caller's media
// (a sipgo UAC whose SDP points at rec.Port()), then checked with
// rec.AudioBetween, HasTone, rec.Digits and rec.Continuity.
package siptest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// InstallHint is what to run when a tool is missing.
const InstallHint = "make test (it runs scripts/install-test-deps.sh, which installs sip-tester and baresip-core)"

// RequireTools fails the test unless every named program is on PATH.
func RequireTools(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("missing %v on PATH; install with: %s", missing, InstallHint)
	}
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// RepoRoot is the directory of the module's go.mod, found from the working
// directory upwards (go test runs in the package's directory).
func RepoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = errors.New("no go.mod above the working directory")
				return
			}
			dir = parent
		}
	})
	if rootErr != nil {
		t.Fatalf("siptest: %v", rootErr)
	}
	return rootDir
}

// Testdata is the absolute path of a file under the repository's testdata,
// e.g. Testdata(t, "audio", "caller-1000hz.ulaw"). It fails the test when the
// file does not exist.
func Testdata(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{RepoRoot(t), "testdata"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("siptest: %v", err)
	}
	return p
}

// Fixture paths under testdata/audio and the tones in them.
const (
	CallerToneHz = 1000 // testdata/audio/caller-1000hz.{ulaw,wav}
	AgentToneHz  = 1700 // testdata/audio/agent-1700hz.{ulaw,wav}
)

// FreeUDPPort returns an even UDP port on 127.0.0.1 that was free a moment
// ago, with port+1 and port+2 free too (RTCP; sipp's -mp binds port and
// port+2), and the same number free on TCP.
// Another process can take it before the caller binds it: callers that start
// a peer on it retry with a fresh port when the peer fails to bind.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	for range 50 {
		a, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("siptest: free port: %v", err)
		}
		port := a.LocalAddr().(*net.UDPAddr).Port
		ok := port%2 == 0
		for i := 1; ok && i <= 2; i++ {
			b, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port+i))
			if err != nil {
				ok = false
				continue
			}
			b.Close()
		}
		a.Close()
		if !ok {
			continue
		}
		// TCP on the same number, for SIP over TCP.
		if l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			l.Close()
			return port
		}
	}
	t.Fatalf("siptest: no free even UDP port pair after 50 tries")
	return 0
}
