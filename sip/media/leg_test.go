package media

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func requireTone(t *testing.T, pcm []int16, want float64, msg string) {
	t.Helper()
	f, share := dominant(pcm, 440, 1000, 1500, 2000)
	require.Equal(t, want, f, "%s: dominant tone (share %.2f)", msg, share)
	require.Greater(t, share, 0.8, "%s: %v Hz share of the power", msg, want)
}

// A caller's leg plays a prompt, then the shared hold stream, then is bridged to another party, then plays a prompt
// again: the receiver hears each source in turn on one continuous stream.
func TestLegSwitchesSourcesOnOneStream(t *testing.T) {
	pacer := runPacer(t, 2)
	caller := newPeer(t)
	a := runLeg(t, LegConfig{Remote: caller.addr(), Codec: PCMU})
	pacer.Add(a)
	rx := &stream{t: t, peer: caller, pacer: pacer, leg: a.LocalAddr()}

	prompt := NewClip("prompt", tone(440, 8000, 10*FrameSamples-30))
	player := NewPlayer(prompt)
	a.Play(player)
	first := rx.next()
	require.True(t, first.hdr.Marker, "marker on the stream's first packet")
	require.Equal(t, uint8(PCMU), first.hdr.PayloadType)
	got := rx.take(prompt.Frames(), first)
	for i, p := range got {
		require.Equal(t, prompt.Frame(i, PCMU), p.payload, "prompt frame %d sample-exact", i)
	}
	<-player.Done()

	hold := NewHoldStream("default", NewClip("music", tone(1000, 8000, 50*FrameSamples)))
	a.Hold(hold)
	before, marked := rx.untilMarker()
	require.Empty(t, before, "nothing sent between the prompt's end and the hold stream")
	requireTone(t, decoded(rx.take(10, marked), PCMU), 1000, "hold")

	// The agent's leg, PCMA, with its phone sending a 1500 Hz tone.
	agent := newPeer(t)
	b := runLeg(t, LegConfig{Remote: agent.addr(), Codec: PCMA})
	pacer.Add(b)
	unbridge := Bridge(a, b)
	agentTone := tone(1500, 8000, 30*FrameSamples)
	for i := range 30 {
		agent.sendAudio(t, b.LocalAddr(), PCMA, agentTone[i*FrameSamples:(i+1)*FrameSamples])
	}
	before, marked = rx.untilMarker() // hold packets sent before the switch, then the first relayed one
	for _, p := range before {
		requireTone(t, decoded([]rxPacket{p}, PCMU), 1000, "hold before the bridge")
	}
	relayed := rx.take(30, marked)
	requireTone(t, decoded(relayed, PCMU), 1500, "the agent, transcoded from PCMA")
	for i, p := range relayed {
		want := make([]byte, FrameSamples)
		Encode(want, agentTone[i*FrameSamples:(i+1)*FrameSamples], PCMA)
		Transcode(want, want, PCMA, PCMU)
		require.Equal(t, want, p.payload, "relayed frame %d transcoded by table", i)
	}
	require.Equal(t, uint64(30), b.Stats().PacketsReceived)

	unbridge()
	a.Play(NewPlayer(prompt))
	before, marked = rx.untilMarker()
	require.Empty(t, before)
	requireTone(t, decoded(rx.take(prompt.Frames(), marked), PCMU), 440, "prompt after the bridge")

	st := a.Stats()
	require.GreaterOrEqual(t, st.PacketsSent, uint64(2*prompt.Frames()+10+30))
	require.Zero(t, st.SendErrors)
	require.Equal(t, 2, pacer.Stats().Legs)
}

// Two legs bridged, a PCMU caller and a PCMA agent: each hears the other by content, and a key pressed by the caller
// arrives at the agent as a telephone-event of the agent's payload type, never as audio.
func TestBridgeRelaysAudioAndEvents(t *testing.T) {
	callerPhone, agentPhone := newPeer(t), newPeer(t)
	digits := make(chan rune, 10)
	a := runLeg(t, LegConfig{Remote: callerPhone.addr(), Codec: PCMU, EventPT: 101, OnDigit: func(r rune) { digits <- r }})
	b := runLeg(t, LegConfig{Remote: agentPhone.addr(), Codec: PCMA, EventPT: 96})
	unbridge := Bridge(a, b)
	defer unbridge()

	callerTone, agentTone := tone(440, 8000, 20*FrameSamples), tone(2000, 8000, 20*FrameSamples)
	for i := range 20 {
		callerPhone.sendAudio(t, a.LocalAddr(), PCMU, callerTone[i*FrameSamples:(i+1)*FrameSamples])
		agentPhone.sendAudio(t, b.LocalAddr(), PCMA, agentTone[i*FrameSamples:(i+1)*FrameSamples])
	}
	callerPhone.sendPress(t, a.LocalAddr(), 101, 5)
	callerPhone.sendAudio(t, a.LocalAddr(), PCMU, callerTone[:FrameSamples])

	atAgent := &stream{t: t, peer: agentPhone, leg: b.LocalAddr()}
	var audio []rxPacket
	for range 20 {
		p := atAgent.next()
		require.Equal(t, uint8(PCMA), p.hdr.PayloadType)
		audio = append(audio, p)
	}
	requireTone(t, decoded(audio, PCMA), 440, "the agent hears the caller")
	var events []rxPacket
	for range 6 {
		p := atAgent.next()
		require.Equal(t, uint8(96), p.hdr.PayloadType, "a key press is relayed as an event with the agent's PT")
		e, err := ParseEvent(p.payload)
		require.NoError(t, err)
		require.Equal(t, uint8(5), e.Code)
		events = append(events, p)
	}
	require.True(t, events[0].hdr.Marker)
	for _, p := range events {
		require.Equal(t, events[0].hdr.Timestamp, p.hdr.Timestamp, "an event's packets share its timestamp")
	}
	after := atAgent.next()
	require.Equal(t, uint8(PCMA), after.hdr.PayloadType)
	require.Equal(t, audio[19].hdr.Timestamp+FrameSamples+640, after.hdr.Timestamp, "audio keeps the caller's timing")
	require.Equal(t, '5', <-digits)

	atCaller := &stream{t: t, peer: callerPhone, leg: a.LocalAddr()}
	var back []rxPacket
	for range 20 {
		p := atCaller.next()
		require.Equal(t, uint8(PCMU), p.hdr.PayloadType)
		back = append(back, p)
	}
	requireTone(t, decoded(back, PCMU), 2000, "the caller hears the agent")

	require.Equal(t, uint64(6), a.Stats().Events)
	require.Equal(t, uint64(1), a.Stats().Digits)
	require.Zero(t, a.Stats().Lost)
	require.Equal(t, uint64(27), b.Stats().PacketsSent)
}

// Telephone-events to a leg that negotiated none are dropped, not turned into audio.
func TestBridgeDropsEventsWithoutEventPT(t *testing.T) {
	callerPhone, agentPhone := newPeer(t), newPeer(t)
	a := runLeg(t, LegConfig{Remote: callerPhone.addr(), Codec: PCMU, EventPT: 101})
	b := runLeg(t, LegConfig{Remote: agentPhone.addr(), Codec: PCMU})
	defer Bridge(a, b)()
	callerPhone.sendPress(t, a.LocalAddr(), 101, 1)
	callerPhone.sendAudio(t, a.LocalAddr(), PCMU, tone(440, 8000, FrameSamples))
	p := agentPhone.next()
	require.Equal(t, uint8(PCMU), p.hdr.PayloadType)
	require.Equal(t, FrameSamples, len(p.payload))
	require.Equal(t, uint64(6), b.Stats().EventsDropped)
}

// The leg answers where the peer's packets come from, not where its SDP said; packets of another payload type do
// not latch, and once latched, other sources are ignored.
func TestLegLatchesToSource(t *testing.T) {
	pacer := runPacer(t, 1)
	announced, real, stranger := newPeer(t), newPeer(t), newPeer(t)
	l := runLeg(t, LegConfig{Remote: announced.addr(), Codec: PCMA, EventPT: 101})
	pacer.Add(l)
	l.Hold(NewHoldStream("hold", NewClip("tone", tone(1000, 8000, FrameSamples))))
	announced.next() // sent to the SDP address first

	stranger.hdr.PayloadType = 18 // G.729: not negotiated
	stranger.send(t, l.LocalAddr(), make([]byte, 20))
	real.sendAudio(t, l.LocalAddr(), PCMA, tone(440, 8000, FrameSamples))
	got := real.next()
	require.Equal(t, uint8(PCMA), got.hdr.PayloadType)
	require.Equal(t, real.addr(), l.Remote())
	require.Equal(t, uint64(1), l.Stats().UnknownPT)

	stranger.sendAudio(t, l.LocalAddr(), PCMA, tone(440, 8000, FrameSamples))
	_, err := real.conn.WriteToUDPAddrPort([]byte("not rtp"), l.LocalAddr())
	require.NoError(t, err)
	real.sendAudio(t, l.LocalAddr(), PCMA, tone(440, 8000, FrameSamples))
	for l.Stats().PacketsReceived < 2 {
		real.next() // hold packets keep coming to the real source meanwhile
	}
	st := l.Stats()
	require.Equal(t, uint64(1), st.Foreign)
	require.Equal(t, uint64(1), st.Malformed)
	require.Equal(t, real.addr(), l.Remote())

	// A re-INVITE moves the peer: the leg sends to the new address until packets latch it again.
	l.SetRemote(announced.addr())
	announced.next()
}

func TestLegCountsLossAndLate(t *testing.T) {
	phone := newPeer(t)
	l := runLeg(t, LegConfig{Remote: phone.addr(), Codec: PCMU})
	pcm := tone(440, 8000, FrameSamples)
	phone.sendAudio(t, l.LocalAddr(), PCMU, pcm) // 65530
	phone.hdr.SequenceNumber += 3                // 65531-65533 lost, across the wrap
	phone.sendAudio(t, l.LocalAddr(), PCMU, pcm) // 65534
	phone.hdr.SequenceNumber -= 2
	phone.sendAudio(t, l.LocalAddr(), PCMU, pcm) // 65533: late
	phone.hdr.SequenceNumber += 5
	phone.sendAudio(t, l.LocalAddr(), PCMU, pcm) // 3: 65535-2 lost
	for l.Stats().PacketsReceived < 4 {
		time.Sleep(time.Millisecond)
	}
	st := l.Stats()
	require.Equal(t, uint64(3+4), st.Lost)
	require.Equal(t, uint64(1), st.Late)
}

func TestLegMediaTimeout(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	l := NewLeg(LegConfig{Conn: conn, Codec: PCMU, MediaTimeout: 50 * time.Millisecond})
	defer l.Close()
	require.ErrorIs(t, l.Run(context.Background()), ErrMediaTimeout)

	// Packets keep it alive; when they stop, it times out.
	conn2, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	phone := newPeer(t)
	l2 := NewLeg(LegConfig{Conn: conn2, Codec: PCMU, MediaTimeout: time.Second}) // long enough for a loaded machine
	defer l2.Close()
	done := make(chan error, 1)
	go func() { done <- l2.Run(context.Background()) }()
	for range 10 {
		phone.sendAudio(t, l2.LocalAddr(), PCMU, tone(440, 8000, FrameSamples))
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, uint64(10), l2.Stats().PacketsReceived, "alive while packets come")
	require.ErrorIs(t, <-done, ErrMediaTimeout)

	// A longer first timeout, then the shorter one once packets flowed; no timeout at all after the first packet.
	for _, after := range []time.Duration{50 * time.Millisecond, 0} {
		conn3, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		l3 := NewLeg(LegConfig{Conn: conn3, Codec: PCMU, FirstMediaTimeout: time.Hour, MediaTimeout: after})
		defer l3.Close()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l3.Run(ctx) }()
		phone.sendAudio(t, l3.LocalAddr(), PCMU, tone(440, 8000, FrameSamples))
		if after > 0 {
			require.ErrorIs(t, <-done, ErrMediaTimeout)
		} else {
			for l3.Stats().PacketsReceived == 0 {
				time.Sleep(time.Millisecond)
			}
			cancel()
			require.NoError(t, <-done)
		}
		cancel()
	}
}

func TestLegRunEnds(t *testing.T) {
	for name, stop := range map[string]func(context.CancelFunc, *Leg){
		"context": func(cancel context.CancelFunc, _ *Leg) { cancel() },
		"close":   func(_ context.CancelFunc, l *Leg) { _ = l.Close() },
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			require.NoError(t, err)
			l := NewLeg(LegConfig{Conn: conn, Codec: PCMU, MediaTimeout: time.Hour})
			defer l.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- l.Run(ctx) }()
			stop(cancel, l)
			require.NoError(t, <-done)
		})
	}
}

func TestPortPool(t *testing.T) {
	// Find a free block of ports, then take them all.
	probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	base := probe.LocalAddr().(*net.UDPAddr).Port &^ 1
	require.NoError(t, probe.Close())
	if base+7 > 65535 {
		base = 40000
	}
	pool, err := NewPortPool(netip.MustParseAddr("127.0.0.1"), base+1, base+7) // even ports base+2, +4, +6
	require.NoError(t, err)
	var conns []*net.UDPConn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for {
		c, err := pool.Listen()
		if err != nil {
			require.ErrorIs(t, err, ErrPortsExhausted)
			require.ErrorContains(t, err, "127.0.0.1:")
			break
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		require.Zero(t, port%2, "even port")
		require.True(t, port >= base+2 && port <= base+6)
		conns = append(conns, c)
	}
	require.NotEmpty(t, conns)
	require.LessOrEqual(t, len(conns), 3)
	// A freed port is found again.
	freed := conns[0].LocalAddr().(*net.UDPAddr).Port
	require.NoError(t, conns[0].Close())
	c, err := pool.Listen()
	require.NoError(t, err)
	conns[0] = c
	require.Equal(t, freed, c.LocalAddr().(*net.UDPAddr).Port)

	_, err = NewPortPool(netip.MustParseAddr("127.0.0.1"), 20000, 10000)
	require.ErrorContains(t, err, "20000-10000")
}

// A peer that says "no media here" (c=0.0.0.0, or port 0) gets nothing until its packets latch an address.
func TestLegSendsNothingToUnspecifiedAddress(t *testing.T) {
	var buf [1500]byte
	for _, remote := range []netip.AddrPort{{}, netip.MustParseAddrPort("0.0.0.0:4000"), netip.MustParseAddrPort("127.0.0.1:0")} {
		l := sinkLeg(t, PCMU, 0)
		l.SetRemote(remote)
		l.Hold(NewHoldStream("hold", nil))
		_, sent := l.paced(1, int64(tick), buf[:])
		require.False(t, sent, "sent to %v", remote)
	}
}

func TestPacerShards(t *testing.T) {
	require.Len(t, NewPacer(0, nil).shards, runtime.GOMAXPROCS(0))
	p := NewPacer(3, nil)
	legs := []*Leg{sinkLeg(t, PCMU, 0), sinkLeg(t, PCMU, 0), sinkLeg(t, PCMA, 0), sinkLeg(t, PCMU, 0)}
	for _, l := range legs {
		p.Add(l)
		p.Add(l) // twice does nothing
	}
	require.Equal(t, 4, p.Stats().Legs)
	p.Remove(legs[1])
	p.Remove(legs[1])
	require.Equal(t, 3, p.Stats().Legs)
	require.NoError(t, legs[0].Close()) // Close takes a leg off its pacer
	require.Equal(t, 2, p.Stats().Legs)
	for _, s := range p.shards {
		for i, l := range s.legs {
			require.Equal(t, i, l.pIdx)
		}
	}
}
