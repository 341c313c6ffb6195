package media

import (
	"net/netip"
	"testing"

	"github.com/pion/rtp"
)

// Every datagram a leg receives is counted once: accepted, malformed, of an unknown payload type, or foreign
// (telephone-events with a short payload are accepted and counted malformed too); only version-2 RTP of the
// codec's or the event payload type is accepted.
func FuzzLegReceive(f *testing.F) {
	audio, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: 1}, Payload: []byte{1, 2}}).Marshal()
	event, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, Marker: true}, Payload: []byte{5, 10, 0, 0}}).Marshal()
	padded, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, Padding: true}, Payload: []byte{1}, PaddingSize: 3}).Marshal()
	f.Add(audio, false)
	f.Add(event, false)
	f.Add(padded, true)
	f.Add([]byte{0x80}, false)
	l := sinkLeg(f, PCMA, 101)
	from := l.Remote()
	other := netip.AddrPortFrom(from.Addr(), from.Port()+1)
	f.Fuzz(func(t *testing.T, b []byte, foreign bool) {
		before := l.Stats()
		src := from
		if foreign {
			src = other
		}
		ok := l.receive(b, src)
		after := l.Stats()
		recv := after.PacketsReceived - before.PacketsReceived
		bad := after.Malformed - before.Malformed
		unknown := after.UnknownPT - before.UnknownPT
		strange := after.Foreign - before.Foreign
		if ok {
			if recv != 1 || unknown+strange != 0 || bad > 1 {
				t.Fatalf("accepted %x: %+v → %+v", b, before, after)
			}
			if b[0]>>6 != 2 || (b[1]&0x7F != 8 && b[1]&0x7F != 101) {
				t.Fatalf("accepted %x: not version-2 RTP of PT 8 or 101", b)
			}
			if bad == 1 && b[1]&0x7F != 101 {
				t.Fatalf("accepted %x counted malformed", b)
			}
			return
		}
		if recv != 0 || bad+unknown+strange != 1 {
			t.Fatalf("refused %x: %+v → %+v", b, before, after)
		}
	})
}
