package media

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// sinkLeg is a leg whose packets go to a UDP socket nobody reads (the kernel drops what overflows).
func sinkLeg(tb testing.TB, c Codec, eventPT uint8) *Leg {
	tb.Helper()
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(tb, err)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(tb, err)
	l := NewLeg(LegConfig{Conn: conn, Remote: sink.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: c, EventPT: eventPT})
	tb.Cleanup(func() { _ = l.Close(); _ = sink.Close() })
	return l
}

// The pacer's work for one leg on one tick: stamp the leg's header on the shared hold frame and write it.
func BenchmarkPacedSend(b *testing.B) {
	l := sinkLeg(b, PCMA, 0)
	l.Hold(NewHoldStream("hold", NewClip("tone", tone(440, 8000, 50*FrameSamples))))
	var buf [1500]byte
	b.ReportAllocs()
	k, at := uint64(0), int64(0)
	for b.Loop() {
		if _, ok := l.paced(k, at, buf[:]); !ok {
			b.Fatal("not sent")
		}
		k++
		at += int64(tick)
	}
}

// The bridge relay of one received packet: rewrite the header, transcode PCMU to PCMA, write.
func BenchmarkBridgeRelay(b *testing.B) {
	a, out := sinkLeg(b, PCMU, 101), sinkLeg(b, PCMA, 96)
	Bridge(a, out)
	in := rtp.Header{Version: 2, PayloadType: 0, SSRC: 7, Timestamp: 1000, SequenceNumber: 1}
	payload := make([]byte, FrameSamples)
	Encode(payload, tone(440, 8000, FrameSamples), PCMU)
	var buf [1500]byte
	b.ReportAllocs()
	for b.Loop() {
		out.relay(a, &in, payload, false, buf[:])
		in.SequenceNumber++
		in.Timestamp += FrameSamples
	}
	if out.Stats().PacketsSent == 0 {
		b.Fatal("nothing relayed")
	}
}

// Leg.Run's work for one received packet, without the read: parse, latch check, loss count, relay to the bridged leg.
func BenchmarkLegReceive(b *testing.B) { benchLegReceive(b, false) }

// benchLegReceive feeds one leg, bridged to another, numbered packets as if they had been read; tap puts a
// Recorder on the receiving leg.
func benchLegReceive(b *testing.B, tap bool) {
	a, out := sinkLeg(b, PCMU, 101), sinkLeg(b, PCMA, 96)
	Bridge(a, out)
	stop := func() {}
	if tap {
		stop = tapped(b, a)
	}
	from := a.Remote()
	pk := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 7, Timestamp: 1000}, Payload: make([]byte, FrameSamples)}
	raw, err := pk.Marshal()
	require.NoError(b, err)
	b.ReportAllocs()
	var seq uint16
	for b.Loop() {
		raw[2], raw[3] = byte(seq>>8), byte(seq)
		seq++
		if !a.receive(raw, from) {
			b.Fatal("not accepted")
		}
	}
	stop()
	if !tap && (out.Stats().PacketsSent == 0 || a.Stats().Lost != 0) {
		b.Fatalf("relayed %d, lost %d", out.Stats().PacketsSent, a.Stats().Lost)
	}
}

// BenchmarkPacerLoad paces LIANXIN_MEDIA_LEGS legs (default 2000) with one shared hold stream to UDP sinks on
// loopback, one op per 20 ms tick, and reports CPU used (share of one core) and the send-interval percentiles.
// Run with -benchtime 250x (5 s).
func BenchmarkPacerLoad(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("LIANXIN_MEDIA_LEGS")); err == nil {
		n = v
	}
	sinks := make([]*net.UDPConn, 16)
	for i := range sinks {
		s, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(b, err)
		defer s.Close()
		sinks[i] = s
	}
	pacer := NewPacer(2, nil)
	hold := NewHoldStream("hold", NewClip("tone", tone(440, 8000, 500*FrameSamples)))
	for i := range n {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(b, err)
		l := NewLeg(LegConfig{Conn: conn, Remote: sinks[i%len(sinks)].LocalAddr().(*net.UDPAddr).AddrPort(), Codec: Codec(8 * (i % 2))})
		defer l.Close()
		pacer.Add(l)
		l.Hold(hold)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pacer.Run(ctx) }()
	time.Sleep(200 * time.Millisecond) // let the loops settle
	cpu0, start, before := cpuTime(), time.Now(), pacer.Stats()
	for b.Loop() {
		time.Sleep(tick)
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	cancel()
	<-done
	st := pacer.Stats()
	b.ReportMetric(float64(cpu)/float64(elapsed)*100, "%cpu")
	b.ReportMetric(float64(st.Sent-before.Sent)/elapsed.Seconds(), "pkts/s")
	b.ReportMetric(float64(st.IntervalP99)/1e6, "p99-ms")
	b.ReportMetric(float64(st.IntervalMax)/1e6, "max-ms")
	b.ReportMetric(float64(st.LateTicks), "late-ticks")
	b.Logf("%d legs: %+v", n, st)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBridgeLoad relays LIANXIN_MEDIA_PAIRS bridged calls (default 500) on loopback: for each call two phones
// (legs paced with a hold stream, so 50 packets/s each) send to two bridged gateway legs, which relay to the other
// phone; the phones read and count what they lose. One op per 20 ms tick. CPU covers the phones too (their pacing
// and reading cost about as much as the gateway's relaying). Run with -benchtime 250x (5 s).
func BenchmarkBridgeLoad(b *testing.B) { bridgeLoad(b, false) }

// BenchmarkRecordedBridgeLoad is BenchmarkBridgeLoad with every call recorded: a Recorder taps one gateway leg of
// each call (both directions) and its writer writes a stereo WAV to a file in the test's temporary folder. It
// reports, besides the load's, the WAV bytes written per second per call and the frames dropped. Compare its %cpu
// with BenchmarkBridgeLoad's for recording's cost. Run with -benchtime 250x (5 s).
func BenchmarkRecordedBridgeLoad(b *testing.B) { bridgeLoad(b, true) }

func bridgeLoad(b *testing.B, record bool) {
	n := 500
	if v, err := strconv.Atoi(os.Getenv("LIANXIN_MEDIA_PAIRS")); err == nil {
		n = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	var runs []chan error
	run := func(l *Leg) {
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		runs = append(runs, done)
	}
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(b, err)
		return c
	}
	phonesPacer := NewPacer(1, nil)
	hold := NewHoldStream("hold", NewClip("tone", tone(440, 8000, 500*FrameSamples)))
	var gateway, phones []*Leg
	var recs []*Recorder
	var recDone []chan int64
	dir := b.TempDir()
	for k := range n {
		var pair [2]*Leg
		for i, c := range []Codec{PCMU, PCMA} {
			gc, pc := listen(), listen()
			g := NewLeg(LegConfig{Conn: gc, Remote: pc.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: c})
			p := NewLeg(LegConfig{Conn: pc, Remote: g.LocalAddr(), Codec: c})
			phonesPacer.Add(p)
			p.Hold(hold)
			run(g)
			run(p)
			pair[i] = g
			gateway, phones = append(gateway, g), append(phones, p)
		}
		Bridge(pair[0], pair[1])
		if record {
			f, err := os.Create(filepath.Join(dir, strconv.Itoa(k)+".wav"))
			require.NoError(b, err)
			rec := NewRecorder(150)
			pair[0].SetTap(rec)
			done := make(chan int64, 1)
			go func() {
				defer f.Close()
				n, err := rec.Run(f, 0)
				if err != nil {
					b.Error(err)
				}
				done <- n
			}()
			recs, recDone = append(recs, rec), append(recDone, done)
		}
	}
	pacerDone := make(chan error, 1)
	go func() { pacerDone <- phonesPacer.Run(ctx) }()
	recStart := time.Now()
	time.Sleep(300 * time.Millisecond) // let the streams start and latch
	relayed := func() (sent, lost uint64) {
		for _, g := range gateway {
			sent += g.Stats().PacketsSent
		}
		for _, p := range phones {
			lost += p.Stats().Lost
		}
		return sent, lost
	}
	cpu0, start := cpuTime(), time.Now()
	sent0, lost0 := relayed()
	for b.Loop() {
		time.Sleep(tick)
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	sent1, lost1 := relayed()
	var recBytes int64
	var dropped uint64
	for i, r := range recs {
		r.Stop()
		recBytes += <-recDone[i]
		dropped += r.Dropped()
	}
	if record {
		// The recordings span from their start (before the measured time) to now.
		b.ReportMetric(float64(recBytes)/time.Since(recStart).Seconds()/float64(n), "wav-B/s/call")
		b.ReportMetric(float64(dropped), "rec-dropped")
	}
	cancel()
	<-pacerDone
	for _, d := range runs {
		require.NoError(b, <-d)
	}
	for _, l := range append(gateway, phones...) {
		_ = l.Close()
	}
	b.ReportMetric(float64(cpu)/float64(elapsed)*100, "%cpu")
	b.ReportMetric(float64(sent1-sent0)/elapsed.Seconds(), "relayed/s")
	b.ReportMetric(float64(lost1-lost0), "lost")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(sent1-sent0), "cpu-ns/relayed")
}

// The tapped hot paths: as BenchmarkLegReceive, BenchmarkBridgeRelay and BenchmarkPacedSend with a Recorder on the
// leg and its writer running (to io.Discard): still no allocation per packet.
func BenchmarkLegReceiveTapped(b *testing.B) { benchLegReceive(b, true) }

func BenchmarkBridgeRelayTapped(b *testing.B) {
	a, out := sinkLeg(b, PCMU, 101), sinkLeg(b, PCMA, 96)
	Bridge(a, out)
	stop := tapped(b, out)
	in := rtp.Header{Version: 2, PayloadType: 0, SSRC: 7, Timestamp: 1000, SequenceNumber: 1}
	payload := make([]byte, FrameSamples)
	Encode(payload, tone(440, 8000, FrameSamples), PCMU)
	var buf [1500]byte
	b.ReportAllocs()
	for b.Loop() {
		out.relay(a, &in, payload, false, buf[:])
		in.SequenceNumber++
		in.Timestamp += FrameSamples
	}
	stop()
}

func BenchmarkPacedSendTapped(b *testing.B) {
	l := sinkLeg(b, PCMA, 0)
	l.Hold(NewHoldStream("hold", NewClip("tone", tone(440, 8000, 50*FrameSamples))))
	stop := tapped(b, l)
	var buf [1500]byte
	b.ReportAllocs()
	k, at := uint64(0), int64(0)
	for b.Loop() {
		if _, ok := l.paced(k, at, buf[:]); !ok {
			b.Fatal("not sent")
		}
		k++
		at += int64(tick)
	}
	stop()
}

// tapped puts a recorder with a running writer on l, and reports the frames it took and dropped when stopped.
func tapped(b *testing.B, l *Leg) (stop func()) {
	rec := NewRecorder(150)
	l.SetTap(rec)
	done := make(chan struct{})
	go func() { defer close(done); _, _ = rec.Run(io.Discard, 0) }()
	return func() {
		rec.Stop()
		<-done
		b.ReportMetric(float64(rec.Dropped())/float64(rec.Dropped()+rec.Frames()), "dropped-share")
	}
}

// The recorder's writer for one 20 ms frame: decode G.711, lay it on the timeline, write it out as stereo PCM (to
// io.Discard through the writer's buffer). A recorded call makes 100 frames a second (50 each way).
func BenchmarkRecorderWriteFrame(b *testing.B) {
	var tl timeline
	ww := &wavWriter{w: bufio.NewWriterSize(io.Discard, 8<<10)}
	f := tapFrame{codec: PCMU, n: FrameSamples}
	Encode(f.data[:FrameSamples], tone(440, 8000, FrameSamples), PCMU)
	b.ReportAllocs()
	var at int64
	for b.Loop() {
		f.at = at
		f.dir ^= 1
		if f.dir == 0 {
			at += int64(tick)
		}
		if err := tl.add(ww, &f, 0); err != nil {
			b.Fatal(err)
		}
		if err := tl.flush(ww, at/int64(time.Second/recRate)-recDelay); err != nil {
			b.Fatal(err)
		}
	}
}

// The tap's copy of one frame into the recorder's buffer, drained by a reader as fast as it can.
func BenchmarkRecorderPut(b *testing.B) {
	rec := NewRecorder(150)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-rec.frames:
			case <-rec.stop:
				return
			}
		}
	}()
	payload := make([]byte, FrameSamples)
	b.ReportAllocs()
	for b.Loop() {
		rec.put(TapIn, PCMU, 0, payload)
	}
	rec.Stop()
	<-done
}
