package siptest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/lianxin/lianxin/sip/media"
)

var update = flag.Bool("update", false, "rewrite the committed fixtures under testdata/audio and testdata/sipp/dtmf")

// fixtures are the committed test files and how each is made. Tests need no
// sox or espeak-ng: `go test ./sip/siptest -run TestFixtures -update` rewrites
// them, and TestFixtures checks the committed bytes are what this code makes.
func fixtures() map[string][]byte {
	const seconds = 5
	caller := SineWave(CallerToneHz, seconds*SampleRate, 12000)
	agent := SineWave(AgentToneHz, seconds*SampleRate, 12000)
	f := map[string][]byte{
		"audio/caller-1000hz.ulaw": encodeG711(caller, media.PCMU),
		"audio/caller-1000hz.wav":  EncodeWAV(caller, SampleRate),
		"audio/agent-1700hz.ulaw":  encodeG711(agent, media.PCMU),
		"audio/agent-1700hz.wav":   EncodeWAV(agent, SampleRate),
	}
	for ev := range byte(12) {
		f["sipp/dtmf/"+DTMFPcapName(ev)] = DTMFPcap(ev)
	}
	return f
}

// DTMFPcapName is the file name under testdata/sipp/dtmf of the key press of
// event code ev: dtmf-0.pcap … dtmf-9.pcap, dtmf-star.pcap, dtmf-pound.pcap.
func DTMFPcapName(ev byte) string {
	switch ev {
	case 10:
		return "dtmf-star.pcap"
	case 11:
		return "dtmf-pound.pcap"
	}
	return "dtmf-" + string(digit(ev)) + ".pcap"
}

func TestFixtures(t *testing.T) {
	root := filepath.Join(RepoRoot(t), "testdata")
	for name, want := range fixtures() {
		p := filepath.Join(root, name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v (regenerate with -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what fixtures() makes (regenerate with -update)", name)
		}
	}
}
