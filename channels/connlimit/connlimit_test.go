package connlimit_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/connlimit"
	"github.com/stretchr/testify/require"
)

// accept runs an accept loop that keeps every connection (to mark busy)
// and, as a server does, begins to read each before the next is accepted.
func accept(t *testing.T, l *connlimit.Listener) chan net.Conn {
	return acceptLoop(t, l, true)
}

// begin is a server's first read of c: one that returns at once, leaving
// what the client sent unread.
func begin(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(-time.Second))
	_, _ = c.Read(make([]byte, 1))
	_ = c.SetReadDeadline(time.Time{})
}

func acceptLoop(t *testing.T, l *connlimit.Listener, read bool) chan net.Conn {
	got := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(got)
				return
			}
			if read {
				begin(c)
			}
			got <- c
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		for c := range got {
			_ = c.Close()
		}
	})
	return got
}

func closed(t *testing.T, c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 64))
	return err == io.EOF || (err != nil && !strings.Contains(err.Error(), "timeout"))
}

// TestRefusedWhenAllBusy: with every place busy a new connection gets the
// Refuse answer; once one is idle, it is closed for the next one.
func TestRefusedWhenAllBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := connlimit.New(ln, connlimit.Limits{Max: 2, Refuse: func(c net.Conn) { _, _ = io.WriteString(c, "BUSY\n") }})
	got := accept(t, l)
	var server []net.Conn
	var client []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		client = append(client, c)
		s := <-got
		connlimit.ConnState(s, true)
		server = append(server, s)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "BUSY\n", line)
	_ = c.Close()
	require.Equal(t, 1, l.Stats().Refused)

	connlimit.ConnState(server[0], false) // the first is idle now
	c, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	<-got
	require.True(t, closed(t, client[0]), "the idle one was closed for the new one")
	require.Equal(t, connlimit.Stats{Open: 2, Evicted: 1, Refused: 1}, l.Stats())
}

// TestPerSource: one address past PerSource loses its own oldest idle
// connection; a trusted address has no per-source bound.
func TestPerSource(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := connlimit.New(ln, connlimit.Limits{Max: 100, PerSource: 3})
	got := accept(t, l)
	var cs []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		cs = append(cs, c)
		<-got
	}
	require.True(t, closed(t, cs[0]))
	require.True(t, closed(t, cs[1]))
	require.Equal(t, 3, l.Stats().Open)

	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l2 := connlimit.New(ln2, connlimit.Limits{Max: 100, PerSource: 3, Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	got2 := accept(t, l2)
	for range 5 {
		c, err := net.Dial("tcp", ln2.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		<-got2
	}
	require.Equal(t, connlimit.Stats{Open: 5}, l2.Stats())
}

// TestRealIP: X-Forwarded-For is believed from a trusted proxy only, and
// only its right-most hop that is not itself a trusted proxy.
func TestRealIP(t *testing.T) {
	trusted, err := connlimit.ParsePrefixes([]string{"10.0.0.0/8", "192.0.2.7"})
	require.NoError(t, err)
	h := connlimit.RealIP(trusted, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.RemoteAddr)
	}))
	for _, c := range []struct{ remote, xff, want string }{
		{"10.1.2.3:5000", "203.0.113.9", "203.0.113.9:0"},
		{"10.1.2.3:5000", "1.1.1.1, 203.0.113.9, 10.9.9.9", "203.0.113.9:0"}, // a forged first hop is ignored
		{"198.51.100.1:5000", "203.0.113.9", "198.51.100.1:5000"},            // not a proxy: header ignored
		{"192.0.2.7:80", "", "192.0.2.7:80"},
		{"10.1.2.3:5000", "garbage", "10.1.2.3:5000"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, c.want, w.Body.String(), "%+v", c)
	}
	_, err = connlimit.ParsePrefixes([]string{"10.0.0.0/33"})
	require.ErrorContains(t, err, "10.0.0.0/33")
}

// FuzzRealIP: any X-Forwarded-For from a trusted proxy gives an address
// and never a crash.
func FuzzRealIP(f *testing.F) {
	for _, s := range []string{"203.0.113.9", "1.1.1.1, 10.0.0.1", "", ",,,", "::ffff:1.2.3.4", "[::1]"} {
		f.Add(s)
	}
	trusted, _ := connlimit.ParsePrefixes([]string{"10.0.0.0/8"})
	f.Fuzz(func(t *testing.T, xff string) {
		h := connlimit.RealIP(trusted, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := netip.ParseAddrPort(r.RemoteAddr); err != nil {
				t.Errorf("X-Forwarded-For %q gave RemoteAddr %q", xff, r.RemoteAddr)
			}
		}))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "10.0.0.1:1"
		r.Header.Set("X-Forwarded-For", xff)
		h.ServeHTTP(httptest.NewRecorder(), r)
	})
}

// TestNeverServedGoFirst: a connection that served a request and waits for
// the next (a client's keep-alive) outlives newer ones that never sent a
// whole request (a slow flood).
func TestNeverServedGoFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := connlimit.New(ln, connlimit.Limits{Max: 2})
	got := accept(t, l)
	var client []net.Conn
	for i := range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		client = append(client, c)
		s := <-got
		if i == 0 { // served a request, idle since
			connlimit.ConnState(s, true)
			connlimit.ConnState(s, false)
		}
	}
	require.True(t, closed(t, client[1]), "the newer, never-served one was closed")
	_ = client[0].SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err = client[0].Read(make([]byte, 1))
	require.ErrorContains(t, err, "timeout", "the keep-alive stays open")
}

// TestNotYetReadIsKept: a connection the server has not begun to read (a
// client's new one, accepted in a burst of a flood's) is not closed for a
// newer one, and its age counts from its first read; with nothing else to
// close, the newest is refused.
func TestNotYetReadIsKept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := connlimit.New(ln, connlimit.Limits{Max: 2, Refuse: func(c net.Conn) { _, _ = io.WriteString(c, "BUSY\n") }})
	got := acceptLoop(t, l, false)
	dial := func() (client, server net.Conn) {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c, <-got
	}
	c1, s1 := dial() // not read yet: the oldest, but kept
	c2, s2 := dial()
	begin(s2)
	c3, s3 := dial()
	require.True(t, closed(t, c2), "the one being read was closed, though newer")
	require.Equal(t, connlimit.Stats{Open: 2, Evicted: 1}, l.Stats())

	// Neither held one is being read: the next is refused.
	c4, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c4.Close()
	line, err := bufio.NewReader(c4).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "BUSY\n", line)
	require.Equal(t, connlimit.Stats{Open: 2, Evicted: 1, Refused: 1}, l.Stats())

	// s3 is read from before s1: it is the older by its first read.
	begin(s3)
	begin(s1)
	_, _ = dial()
	require.True(t, closed(t, c3), "first read first closed")
	_ = c1.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err = c1.Read(make([]byte, 1))
	require.ErrorContains(t, err, "timeout", "the one read later stays open")
}
