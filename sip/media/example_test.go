package media_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/lianxin/lianxin/sip/media"
	"go.uber.org/zap"
)

// Key presses arrive as telephone-events (several packets per press, all with the press's timestamp) or in SIP INFO.
func ExampleDTMFDetector() {
	var d media.DTMFDetector
	for _, p := range []struct {
		ts uint32
		e  media.Event
	}{
		{8000, media.Event{Code: 1, Duration: 0}}, // the first packet of a press may have duration 0
		{8000, media.Event{Code: 1, Duration: 160}},
		{8000, media.Event{Code: 1, End: true, Duration: 480}},
		{8000, media.Event{Code: 1, End: true, Duration: 480}}, // end packets are sent three times
		{9600, media.Event{Code: 11, Duration: 0}},
	} {
		if r, ok := d.Feed(p.ts, p.e); ok {
			fmt.Printf("%c", r)
		}
	}
	r, _ := media.ParseInfoDTMF("application/dtmf-relay", []byte("Signal=*\r\nDuration=160\r\n"))
	fmt.Printf("%c\n", r)
	// Output: 1#*
}

// How a node wires calls: one port pool, one pacer, one hold stream per hold class; per call a leg that plays the
// welcome prompt, then holds, then is bridged to the agent's leg.
func Example() {
	log := zap.NewNop()
	ctx := context.Background()
	ports, err := media.NewPortPool(netip.MustParseAddr("127.0.0.1"), 20000, 29999)
	if err != nil {
		panic(err)
	}
	pacer := media.NewPacer(2, log)
	go pacer.Run(ctx) //nolint:errcheck // returns nil when ctx ends
	hold := media.NewHoldStream("default", media.NewClip("hold", make([]int16, 8000)))
	welcome := media.NewClip("welcome", make([]int16, 16000))

	conn, err := ports.Listen()
	if err != nil {
		panic(err) // answer 503: no media port
	}
	caller := media.NewLeg(media.LegConfig{
		Conn: conn, Remote: netip.MustParseAddrPort("127.0.0.1:16000"), Codec: media.PCMU, EventPT: 101,
		OnDigit: func(r rune) { fmt.Printf("pressed %c\n", r) },
	})
	pacer.Add(caller)
	defer caller.Close()
	go caller.Run(ctx) //nolint:errcheck // ErrMediaTimeout ends the call

	p := media.NewPlayer(welcome)
	caller.Play(p)
	<-p.Done()
	caller.Hold(hold)
	// … an agent answers on agentLeg:
	// unbridge := media.Bridge(caller, agentLeg)
}
