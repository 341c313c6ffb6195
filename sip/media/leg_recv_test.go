package media

import (
	"net/netip"
	"testing"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
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

// A source other than the latched one takes over in two cases only: it is the SDP's own address (the peer itself;
// a stale stream sent to this port for an earlier call latched first), or it sends relatchRun packets in a row with
// nothing from the latched source meanwhile (the stale stream stopped, or the peer's NAT rebound). A latched source
// that keeps sending keeps its place against another sending alongside.
func TestLegRelatches(t *testing.T) {
	l := sinkLeg(t, PCMA, 101)
	announced := l.Remote()
	stale := netip.AddrPortFrom(announced.Addr(), announced.Port()+2)
	natted := netip.AddrPortFrom(announced.Addr(), announced.Port()+4)
	var seq uint16
	send := func(from netip.AddrPort) bool {
		seq++
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: seq}, Payload: make([]byte, 160)}).Marshal()
		require.NoError(t, err)
		return l.receive(b, from)
	}

	require.True(t, send(stale), "the first source latches")
	require.Equal(t, stale, l.Remote())
	require.True(t, send(announced), "the SDP's address takes over at once")
	require.Equal(t, announced, l.Remote())

	// Another source sending alongside the latched one never takes over.
	for i := range 3 * relatchRun {
		require.False(t, send(stale), "packet %d of a source sending alongside", i)
		require.True(t, send(announced))
	}
	require.Equal(t, announced, l.Remote())
	require.Equal(t, uint64(3*relatchRun), l.Stats().Foreign)

	// The latched source falls silent; another sends relatchRun packets in a row and takes over on the last.
	for i := range relatchRun - 1 {
		require.False(t, send(natted), "packet %d of a new source", i)
	}
	require.Equal(t, announced, l.Remote())
	require.True(t, send(natted))
	require.Equal(t, natted, l.Remote())
	require.False(t, send(stale), "once moved, the old ones are foreign again")

	// A re-INVITE's address is the SDP's address from then on.
	l.SetRemote(stale)
	require.True(t, send(natted), "after SetRemote the first source latches")
	require.True(t, send(stale), "and the new SDP address takes over")
	require.Equal(t, stale, l.Remote())
}
