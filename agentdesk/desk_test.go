package agentdesk

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/queue"
	"github.com/stretchr/testify/require"
)

// An offer made the moment a desk is seated in Redis — before its websocket
// is even upgraded — reaches that desk (issue 7: it used to go to nobody,
// and the agent was charged a miss 20 s later).
func TestOfferAtConnectReachesTheNewDesk(t *testing.T) {
	var (
		armed   atomic.Bool
		tn      = make(chan string, 1)
		offered = make(chan string, 64)
		e       *deskEnv
	)
	e = startDeskHooked(t, func(s *Server) {
		s.afterConnect = func() {
			if !armed.CompareAndSwap(true, false) {
				return
			}
			// The agent is seated (and ready) in Redis; the offer is made
			// and handled by this node before the new desk's websocket
			// exists.
			no := e.letter(t, "box-1", "市长信箱")
			for seen := range offered {
				if seen == no {
					break
				}
			}
			tn <- no
		}
		s.eventSeen = func(ev queue.Event) {
			if ev.Type == queue.EventOffered {
				offered <- ev.TrackingNo
			}
		}
	})
	first := e.seat(t, "1001")
	armed.Store(true)
	second := e.dial(t, e.login(t, "1001"))
	want := <-tn
	var got []string
	for _, m := range until(t, second) {
		if m.Type == "offer" {
			got = append(got, m.TrackingNo())
		}
	}
	require.Equal(t, []string{want}, got, "the new desk must get the offer made while it connected, once")
	_, err := first.Next(context.Background(), "never")
	require.ErrorIs(t, err, desktest.ErrClosed)
	require.Equal(t, CloseReplaced, first.CloseCode())
}

// A websocket opened by a page of another site, even with a valid token, is
// refused before anything changes: the agent's live desk stays seated and
// keeps getting offers (issue 8: it used to be replaced, 4001).
func TestForeignOriginLeavesTheLiveDeskAlone(t *testing.T) {
	e := startDesk(t)
	live := e.seat(t, "1001")
	tok := e.login(t, "1001")
	for _, origin := range []string{"http://evil.example", "https://" + e.base[len("http://"):], "null"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, resp, err := desktest.DialHeader(ctx, e.base, http.Header{"Authorization": {"Bearer " + tok}, "Origin": {origin}})
		cancel()
		require.Error(t, err, origin)
		require.NotNil(t, resp, origin)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, origin)
	}
	// Same site: accepted (the browser's own desk page).
	same := http.Header{"Origin": {e.base}, "Sec-WebSocket-Protocol": {deskProtocol + ", bearer." + tok}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Before that, the live desk is untouched and still gets offers.
	tn := e.letter(t, "box-1", "市长信箱")
	require.Equal(t, tn, next(t, live, "offer").TrackingNo())
	require.Zero(t, live.CloseCode())
	browser, resp, err := desktest.DialHeader(ctx, e.base, same)
	require.NoError(t, err)
	defer browser.Close()
	require.Equal(t, deskProtocol, resp.Header.Get("Sec-WebSocket-Protocol"))
	next(t, browser, "hello")
}
