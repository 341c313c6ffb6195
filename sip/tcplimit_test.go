package sip

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Issue 7 #6: SIP over TCP held every connection a flood opened. Now the
// listener holds at most sip.tcp.max_connections, and
// max_connections_per_source from one address; the rest are closed at
// once, and a connection held still gets its answers. Real TCP connections
// to the real listener.
func TestTCPFloodIsCapped(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Trusted = []string{"10.0.0.0/8"} // loopback is not trusted: the per-source bound applies
		c.TCP = TCP{MaxConnections: 30, MaxConnectionsPerSource: 20}
	})
	lim := e.s.tcp.(*tcpLimiter)
	addr := e.s.Addr().String()
	dial := func(src string, n int) []net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		var out []net.Conn
		for range n {
			c, err := d.Dial("tcp", addr)
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			out = append(out, c)
		}
		return out
	}
	waitFor := func(open, refused int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			o, r := lim.stats()
			if o == open && r == refused {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("listener holds %d and refused %d; want %d and %d", o, r, open, refused)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// closedByServer counts the connections the server closed.
	var open []net.Conn
	closedByServer := func(conns []net.Conn) int {
		var mu sync.Mutex
		var wg sync.WaitGroup
		n := 0
		open = nil
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
				_, err := c.Read(make([]byte, 1))
				if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || (err != nil && strings.Contains(err.Error(), "reset")) {
					mu.Lock()
					n++
					mu.Unlock()
					return
				}
				mu.Lock()
				open = append(open, c)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return n
	}

	flood := dial("127.0.0.1", 25)
	waitFor(20, 5)
	require.Equal(t, 5, closedByServer(flood), "one address: 20 held, the rest closed")
	other := dial("127.0.0.2", 15)
	waitFor(30, 10)
	require.Equal(t, 5, closedByServer(other), "the listener: 30 held in all")

	// A connection held is served: OPTIONS over it is answered.
	require.Len(t, open, 10)
	held := open[0]
	_, err := fmt.Fprintf(held, "OPTIONS sip:12345@%s;transport=tcp SIP/2.0\r\n"+
		"Via: SIP/2.0/TCP %s;branch=z9hG4bK-flood1\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.2>;tag=1\r\n"+
		"To: <sip:12345@%s>\r\nCall-ID: flood-options-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
		addr, held.LocalAddr(), addr)
	require.NoError(t, err)
	_ = held.SetReadDeadline(time.Now().Add(60 * time.Second))
	line, err := bufio.NewReader(held).ReadString('\n')
	require.NoError(t, err, "an answer on a held connection")
	require.True(t, strings.HasPrefix(line, "SIP/2.0 "), line)

	// Closed connections free their places.
	for _, c := range flood {
		_ = c.Close()
	}
	waitFor(10, 10)
	dial("127.0.0.1", 3)
	waitFor(13, 10)
}
