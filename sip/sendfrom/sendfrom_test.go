package sendfrom

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/lianxin/lianxin/internal/leakcheck"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestCloseWhileRequestsArrive closes a user agent again and again while a
// peer floods its listener with OPTIONS: a request sipgo read just before
// the close must not make it open a socket of its own to answer on, whose
// reader nothing would end. Served straight on the socket (ServeUDP, then
// closing the socket and the user agent), sipgo left such a reader behind
// in 15 of 150 closes here.
func TestCloseWhileRequestsArrive(t *testing.T) {
	const rounds = 100
	var answered, dropped, busy int
	for round := range rounds {
		a, d := closeUnderFlood(t, round)
		answered += a
		dropped += d
		if d > 0 {
			busy++
		}
	}
	t.Logf("%d rounds: %d OPTIONS answered; %d closes with requests arriving, %d requests dropped by them",
		rounds, answered, busy, dropped)
	require.Greater(t, busy, rounds/2, "most closes happened while requests arrived")
	goleak.VerifyNone(t)
}

// closeUnderFlood serves a user agent that answers OPTIONS 200, has a peer
// send it OPTIONS back to back, closes the user agent once the peer has an
// answer, and tells how many answers the peer got and how many requests
// the close dropped (arrived once it had begun).
func closeUnderFlood(t *testing.T, round int) (answered, dropped int) {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("lianxin-sendfrom-test"))
	require.NoError(t, err)
	srv, err := sipgo.NewServer(ua)
	require.NoError(t, err)
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	from := New(ua, conn)
	served := make(chan struct{})
	go func() { defer close(served); _ = from.Serve(srv) }()

	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer peer.Close()
	var got atomic.Int64
	first := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := peer.ReadFrom(buf)
			if err != nil {
				return
			}
			if strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") && got.Add(1) == 1 {
				close(first)
			}
		}
	}()
	stop := make(chan struct{})
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		to := conn.LocalAddr()
		port := peer.LocalAddr().(*net.UDPAddr).Port
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			msg := fmt.Sprintf("OPTIONS sip:gw@%s SIP/2.0\r\n"+
				"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%d-%d\r\n"+
				"From: <sip:peer@127.0.0.1:%d>;tag=p%d\r\n"+
				"To: <sip:gw@%s>\r\n"+
				"Call-ID: flood-%d-%d@127.0.0.1\r\n"+
				"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
				to, port, round, n, port, round, to, round, n)
			if _, err := peer.WriteTo([]byte(msg), to); err != nil {
				return
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		t.Fatalf("round %d: no OPTIONS answered", round)
	}
	from.Close()
	<-served
	_ = ua.Close()
	close(stop)
	<-flooded
	return int(got.Load()), from.gate.dropped
}
