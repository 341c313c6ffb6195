package siptest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/sip/media"
)

func TestTone(t *testing.T) {
	n := SampleRate / 2
	a := SineWave(1000, n, 12000)
	b := SineWave(1700, n, 12000)
	mix := make([]int16, n)
	for i := range mix {
		mix[i] = a[i]/2 + b[i]/2
	}
	for _, tc := range []struct {
		name   string
		pcm    []int16
		hz     float64
		lo, hi float64
		has    bool
	}{
		{"pure", a, 1000, 0.98, 1.01, true},
		{"other tone", a, 1700, 0, 0.01, false},
		{"near tone", a, 1100, 0, 0.1, false},
		{"through µ-law", decodeG711(encodeG711(b, media.PCMU), media.PCMU), 1700, 0.95, 1.01, true},
		{"mix, first", mix, 1000, 0.45, 0.55, true},
		{"mix, second", mix, 1700, 0.45, 0.55, true},
		{"silence", make([]int16, n), 1000, 0, 0, false},
		{"empty", nil, 1000, 0, 0, false},
		{"quiet", SineWave(1000, n, 50), 1000, 0.98, 1.01, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Tone(tc.pcm, tc.hz)
			if r < tc.lo || r > tc.hi {
				t.Errorf("Tone = %.3f, want in [%.2f, %.2f]", r, tc.lo, tc.hi)
			}
			if HasTone(tc.pcm, tc.hz) != tc.has {
				t.Errorf("HasTone = %v", !tc.has)
			}
		})
	}
}

func TestWAVRoundTrip(t *testing.T) {
	pcm := SineWave(440, 1000, 20000)
	w, err := ParseWAV(EncodeWAV(pcm, 8000))
	if err != nil {
		t.Fatal(err)
	}
	if w.Rate != 8000 || w.Channels != 1 || !equalPCM(w.Samples, pcm) {
		t.Fatalf("round trip: rate %d channels %d, %d samples", w.Rate, w.Channels, len(w.Samples))
	}
	// A writer killed before closing leaves data size 0: read to the end.
	b := EncodeWAV(pcm, 8000)
	binary.LittleEndian.PutUint32(b[40:], 0)
	if w, err := ParseWAV(b); err != nil || len(w.Samples) != len(pcm) {
		t.Fatalf("unfinished header: %v, %d samples", err, len(w.Samples))
	}
	for _, bad := range [][]byte{nil, []byte("RIFF0000WAVE"), []byte("RIFX\x00\x00\x00\x00WAVEfmt ")} {
		if _, err := ParseWAV(bad); err == nil {
			t.Errorf("ParseWAV(%q) accepted", bad)
		}
	}
}

func equalPCM(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzParseWAV(f *testing.F) {
	f.Add(EncodeWAV(SineWave(1000, 16, 1000), 8000))
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := ParseWAV(b)
		if err != nil {
			return
		}
		// Every sample returned was in the input, after a fmt chunk.
		if w.Channels < 1 || 2*len(w.Samples) > len(b)-12-8-16-8 {
			t.Fatalf("%d channels, %d samples from %d bytes", w.Channels, len(w.Samples), len(b))
		}
		if len(w.Mono())*w.Channels > len(w.Samples) {
			t.Fatal("Mono longer than the samples")
		}
	})
}

func TestDTMFPcap(t *testing.T) {
	for ev := range byte(12) {
		b := DTMFPcap(ev)
		if binary.LittleEndian.Uint32(b[0:]) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(b[20:]) != 1 {
			t.Fatal("not a little-endian Ethernet pcap")
		}
		var pkts []RTPPacket
		var usecs []int
		for off := 24; off < len(b); {
			sec := int(binary.LittleEndian.Uint32(b[off:]))
			usec := int(binary.LittleEndian.Uint32(b[off+4:]))
			n := int(binary.LittleEndian.Uint32(b[off+8:]))
			frame := b[off+16 : off+16+n]
			off += 16 + n
			if binary.BigEndian.Uint16(frame[12:]) != 0x0800 || frame[14+9] != 17 {
				t.Fatal("not IPv4 UDP")
			}
			if ipChecksum(frame[14:34]) != 0 {
				t.Fatal("bad IP header checksum")
			}
			if int(binary.BigEndian.Uint16(frame[14+2:])) != n-14 || int(binary.BigEndian.Uint16(frame[34+4:])) != n-34 {
				t.Fatal("IP or UDP length does not match the frame")
			}
			r := frame[42:]
			pkts = append(pkts, RTPPacket{PayloadType: r[1] & 0x7f, Marker: r[1]&0x80 != 0,
				Seq: binary.BigEndian.Uint16(r[2:]), Timestamp: binary.BigEndian.Uint32(r[4:]),
				SSRC: binary.BigEndian.Uint32(r[8:]), Payload: r[12:]})
			usecs = append(usecs, sec*1_000_000+usec)
		}
		if got := Digits(pkts, TelephoneEventPT); got != string(digit(ev)) {
			t.Fatalf("event %d: digits %q", ev, got)
		}
		first, _ := media.ParseEvent(pkts[0].Payload)
		if first.Duration == 0 || !pkts[0].Marker || first.Code != ev {
			t.Errorf("event %d: first packet %+v, marker %v", ev, first, pkts[0].Marker)
		}
		var prev uint16
		for i, p := range pkts {
			e, _ := media.ParseEvent(p.Payload)
			if i > 0 && e.Duration < prev {
				t.Errorf("duration falls at packet %d", i)
			}
			if i > 0 && usecs[i] < usecs[i-1] {
				t.Errorf("time goes back at packet %d", i)
			}
			prev = e.Duration
			if (i >= dtmfSteps) != e.End {
				t.Errorf("packet %d: end %v", i, e.End)
			}
		}
		if err := Continuity(pkts); err != nil {
			t.Errorf("event %d: %v", ev, err)
		}
	}
}

func TestContinuity(t *testing.T) {
	audio := func(seq uint16, ts uint32) RTPPacket {
		return RTPPacket{PayloadType: 0, Seq: seq, Timestamp: ts, SSRC: 7, Payload: make([]byte, 160)}
	}
	event := func(seq uint16, ts uint32) RTPPacket {
		return RTPPacket{PayloadType: 101, Seq: seq, Timestamp: ts, SSRC: 7, Payload: []byte{1, 10, 0, 160}}
	}
	for _, tc := range []struct {
		name string
		ps   []RTPPacket
		errs int
	}{
		{"steady, across seq wrap", []RTPPacket{audio(65534, 0), audio(65535, 160), audio(0, 320)}, 0},
		{"event between", []RTPPacket{audio(1, 0), event(2, 160), event(3, 160), event(3, 160), audio(4, 800)}, 0},
		{"lost packet", []RTPPacket{audio(1, 0), audio(3, 320)}, 1},
		{"timestamp jump", []RTPPacket{audio(1, 0), audio(2, 480)}, 1},
		{"marked after a gap", []RTPPacket{audio(1, 0), {PayloadType: 0, Marker: true, Seq: 2, Timestamp: 480, SSRC: 7,
			Payload: make([]byte, 160)}}, 0},
		{"marked, not whole frames", []RTPPacket{audio(1, 0), {PayloadType: 0, Marker: true, Seq: 2, Timestamp: 400, SSRC: 7,
			Payload: make([]byte, 160)}}, 1},
		{"marked, backwards", []RTPPacket{audio(1, 480), {PayloadType: 0, Marker: true, Seq: 2, Timestamp: 160, SSRC: 7,
			Payload: make([]byte, 160)}}, 1},
		{"new SSRC", []RTPPacket{audio(1, 0), {PayloadType: 0, Seq: 2, Timestamp: 160, SSRC: 8, Payload: make([]byte, 160)}}, 1},
		{"restart", []RTPPacket{audio(100, 16000), audio(0, 0)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Continuity(tc.ps)
			n := 0
			if err != nil {
				n = len(strings.Split(err.Error(), "\n"))
			}
			if n != tc.errs {
				t.Errorf("%d breaks, want %d: %v", n, tc.errs, err)
			}
		})
	}
}

func TestReadNetstring(t *testing.T) {
	r := bufio.NewReader(strings.NewReader(`5:hello,0:,5:{"a,`))
	for _, want := range []string{"hello", ""} {
		got, err := readNetstring(r)
		if err != nil || string(got) != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	if _, err := readNetstring(r); err == nil {
		t.Fatal("truncated frame accepted")
	}
}

func FuzzReadNetstring(f *testing.F) {
	f.Add([]byte(`12:{"event":true},3:abc,`))
	f.Add([]byte(`-1:x`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		consumed := 0
		for {
			msg, err := readNetstring(r)
			if err != nil {
				return
			}
			// The frame read is "LEN:MSG," at the current position.
			rest := b[consumed:]
			i := bytes.IndexByte(rest, ':')
			n, aerr := strconv.Atoi(string(rest[:max(i, 0)]))
			if i < 0 || aerr != nil || n != len(msg) || !bytes.Equal(rest[i+1:i+1+n], msg) || rest[i+1+n] != ',' {
				t.Fatalf("read %q from %q", msg, rest)
			}
			consumed += i + 1 + len(msg) + 1
		}
	})
}

func TestParseSippStat(t *testing.T) {
	csv := "StartTime;TotalCallCreated;SuccessfulCall(C);FailedCall(C);\n" +
		"a;1;0;0;\n" +
		"b;3;2;1;\n"
	m, err := parseSippStat(csv)
	if err != nil || m["TotalCallCreated"] != "3" || m["SuccessfulCall(C)"] != "2" || m["FailedCall(C)"] != "1" {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := parseSippStat("header only\n"); err == nil {
		t.Fatal("no data line accepted")
	}
}

func FuzzParseSippStat(f *testing.F) {
	f.Add("A;B;\n1;2;\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseSippStat(s)
		if err != nil {
			return
		}
		// Every key is a column of the first line.
		head := strings.Split(strings.TrimSpace(s), "\n")[0]
		for k := range m {
			if !strings.Contains(head, k) {
				t.Fatalf("key %q not in header %q", k, head)
			}
		}
	})
}

func TestSineWaveLevel(t *testing.T) {
	w := SineWave(1000, SampleRate, 12000)
	if r := RMS(w); math.Abs(r-12000/math.Sqrt2) > 10 {
		t.Fatalf("RMS %.1f", r)
	}
}

func sleepTick() { time.Sleep(2 * time.Millisecond) }
