package sip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// rawPeer is a UDP SIP peer that never sends first: it answers each request
// 200 (a To tag and a Contact on an INVITE's) to the packet's source and
// notes the method and where it came from.
type rawPeer struct {
	conn *net.UDPConn
	got  chan rawSeen
}

type rawSeen struct {
	method sip.RequestMethod
	from   string // address:port
}

func newRawPeer(t *testing.T) *rawPeer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	p := &rawPeer{conn: conn, got: make(chan rawSeen, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 8192)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			msg, err := sip.ParseMessage(buf[:n])
			req, ok := msg.(*sip.Request)
			if err != nil || !ok {
				continue
			}
			p.got <- rawSeen{req.Method, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()).String()}
			if req.IsAck() {
				continue
			}
			res := sip.NewResponseFromRequest(req, 200, "OK", nil)
			if req.IsInvite() {
				res.To().Params.Add("tag", "rawpeer")
				res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{User: "peer", Host: "127.0.0.1", Port: p.port()}})
			}
			_, _ = conn.WriteToUDPAddrPort([]byte(res.String()), from)
		}
	}()
	t.Cleanup(func() { _ = conn.Close(); <-done })
	return p
}

func (p *rawPeer) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

func (p *rawPeer) uri() sip.Uri { return sip.Uri{User: "peer", Host: "127.0.0.1", Port: p.port()} }

func (p *rawPeer) next(t *testing.T) rawSeen {
	t.Helper()
	select {
	case s := <-p.got:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("the peer got no request")
		return rawSeen{}
	}
}

// TestRequestsLeaveFromTheListener: requests to peers that never sent to the
// gateway (a trunk that receives on one port and sends from another, a phone
// whose port moved behind NAT) leave from the SIP listener's socket, the
// address the gateway advertises, and no socket of sipgo's own is left
// behind for them: an OPTIONS to each of three peers, and a whole dialog
// (INVITE, ACK, BYE) with a fourth.
func TestRequestsLeaveFromTheListener(t *testing.T) {
	e := newEnv(t)
	s := e.s
	listener := s.udp.LocalAddr().String()
	peers := []*rawPeer{newRawPeer(t), newRawPeer(t), newRawPeer(t), newRawPeer(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, siptest.Listening(ctx, s.ua, listener)) // Run's reader has put the listener in the pool
	for i, p := range peers[:3] {
		res, err := s.cli.Do(ctx, sip.NewRequest(sip.OPTIONS, p.uri()))
		require.NoError(t, err, "OPTIONS to peer %d", i)
		require.Equal(t, 200, res.StatusCode)
		seen := p.next(t)
		require.Equal(t, sip.OPTIONS, seen.method)
		require.Equal(t, listener, seen.from, "peer %d got the OPTIONS from another socket", i)
	}

	p := peers[3]
	inv := sip.NewRequest(sip.INVITE, p.uri())
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody(sdpOffer(40000, 0))
	dlg, err := s.dialogs.WriteInvite(ctx, inv)
	require.NoError(t, err)
	require.NoError(t, dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}))
	require.NoError(t, dlg.Ack(ctx))
	require.NoError(t, dlg.Bye(ctx))
	var got []string
	for range 3 {
		seen := p.next(t)
		got = append(got, fmt.Sprintf("%s from %s", seen.method, seen.from))
	}
	require.Equal(t, []string{"INVITE from " + listener, "ACK from " + listener, "BYE from " + listener}, got)

	// sipgo keeps a connection per address it sent to or heard from: each
	// must be the listener, not a socket of its own with a reader.
	for i, p := range peers {
		if from := siptest.SentFrom(s.ua, fmt.Sprintf("127.0.0.1:%d", p.port())); from != "" {
			require.Equal(t, listener, from, "peer %d has a connection of its own", i)
		}
	}
}

// TestRequestBeforeServingWaitsForTheListener: a request made after Listen
// but before Run's reader has pooled the listener waits for it, then leaves
// from the listener; sent at once, it left from a socket of sipgo's own,
// which the peer's answer at the listener took out of sipgo's pool, open
// with its reader for the node's life.
func TestRequestBeforeServingWaitsForTheListener(t *testing.T) {
	e, run := newEnvHeld(t, queuetest.RedisServer(t), "node-a", nil)
	s := e.s
	listener := s.udp.LocalAddr().String()
	p := newRawPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	answered := make(chan error, 1)
	go func() {
		res, err := s.cli.Do(ctx, sip.NewRequest(sip.OPTIONS, p.uri()))
		if err == nil && res.StatusCode != 200 {
			err = fmt.Errorf("answered %d", res.StatusCode)
		}
		answered <- err
	}()
	select {
	case seen := <-p.got:
		t.Fatalf("%s left from %s before the listener %s was serving", seen.method, seen.from, listener)
	case <-time.After(500 * time.Millisecond):
	}
	run()
	seen := p.next(t)
	require.Equal(t, sip.OPTIONS, seen.method)
	require.Equal(t, listener, seen.from)
	require.NoError(t, <-answered)
	from := siptest.SentFrom(s.ua, fmt.Sprintf("127.0.0.1:%d", p.port()))
	require.Contains(t, []string{"", listener}, from, "the peer has a connection of its own")
}
