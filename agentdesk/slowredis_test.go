package agentdesk

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Issue 7: the Redis reads an offer needs (the citizen's history, the
// conversation) ran on the desk socket's writer, so while Redis was slow
// the desk got no pings (and a browser or proxy could drop it). Now they
// run before the writer: while an offer waits for its reads, pings go on.
// The reads are held by a hook (as a stalled Redis would hold them) until
// the desk has seen three pings; the offer comes after.
func TestPingsWhileAnOfferWaitsForRedis(t *testing.T) {
	entered := make(chan string, 1)
	release := make(chan struct{})
	e := startDeskHooked(t, func(s *Server) {
		s.beforeDeskRead = func(tn string) {
			entered <- tn
			<-release
		}
	}, func(p *Params) { p.PingEvery = 500 * time.Millisecond })
	c := e.seat(t, "1001")
	tn := e.letter(t, "cd-city-0001", "市长信箱")
	require.Equal(t, tn, <-entered, "the offer's reads started")
	p0 := c.Pings()
	deadline := time.Now().Add(30 * time.Second)
	for c.Pings() < p0+3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling for progress, not a synchronisation
	}
	pings := c.Pings() - p0
	close(release)
	require.GreaterOrEqual(t, pings, int64(3), "pings while the offer's Redis reads were held")
	offer := next(t, c, "offer")
	require.Equal(t, tn, offer.TrackingNo())
	t.Logf("%d pings while the offer's reads were held", pings)
}
