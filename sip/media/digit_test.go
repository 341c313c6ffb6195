package media

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A key sent by SendDigit arrives at an RTP peer as one RFC 4733 press: the peer's leg detects it once, the end
// packets are there, and a bad key or a peer without events is refused.
func TestSendDigitReachesThePeer(t *testing.T) {
	rx := newPeer(t)
	digits := make(chan rune, 4)
	b := runLeg(t, LegConfig{Remote: rx.addr(), Codec: PCMU, EventPT: 101, OnDigit: func(r rune) { digits <- r }})
	a := runLeg(t, LegConfig{Remote: b.LocalAddr(), Codec: PCMU, EventPT: 101})
	require.NoError(t, a.SendDigit(context.Background(), '7'))
	require.NoError(t, a.SendDigit(context.Background(), '#'))
	for _, want := range "7#" {
		select {
		case got := <-digits:
			require.Equal(t, want, got)
		case <-time.After(10 * time.Second):
			t.Fatalf("digit %q not detected", want)
		}
	}
	select {
	case r := <-digits:
		t.Fatalf("a press reported twice: %q", r)
	case <-time.After(100 * time.Millisecond):
	}
	steps := int(DigitDuration / tick)
	require.Equal(t, uint64(2*(steps+3)), b.Stats().Events, "each press: %d packets and 3 end packets", steps)
	require.ErrorIs(t, a.SendDigit(context.Background(), 'x'), ErrBadEvent)
	c := runLeg(t, LegConfig{Remote: rx.addr(), Codec: PCMU})
	require.True(t, errors.Is(c.SendDigit(context.Background(), '1'), ErrNoEvents))
}
