package email

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestRefusals: each bad letter gets the reply that tells its sender's
// server what to do, and nothing is queued.
func TestRefusals(t *testing.T) {
	e := start(t, queuetest.Miniredis(t), nil, func(o *Options) {
		o.MaxMessageBytes = 64 << 10
		o.MaxAttachmentBytes = 16 << 10
		o.MaxAttachments = 2
		o.MaxParts = 100
	})
	manyParts := func(n int, typ string) []byte {
		var b bytes.Buffer
		b.WriteString("From: a@example.cn\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n")
		for i := range n {
			disp := "inline"
			if typ != "text/plain" {
				disp = fmt.Sprintf("attachment; filename=%d.pdf", i)
			}
			fmt.Fprintf(&b, "--m\r\nContent-Type: %s\r\nContent-Disposition: %s\r\n\r\n%%PDF-%d\r\n", typ, disp, i)
		}
		b.WriteString("--m--\r\n")
		return b.Bytes()
	}
	nested := func(depth int) []byte {
		var b bytes.Buffer
		b.WriteString("From: a@example.cn\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
		for i := 1; i <= depth; i++ {
			fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i-1, i)
		}
		return b.Bytes()
	}
	bigAttachment := strings.Replace(string(manyParts(1, "application/pdf")), "%PDF-0",
		"%PDF-0"+strings.Repeat(strings.Repeat("x", 70)+"\r\n", 300), 1)
	longLine := "From: a@example.cn\r\nSubject: x\r\n\r\n" + strings.Repeat("长", 1000) + "\r\n"
	for _, tc := range []struct {
		name string
		data []byte
		code int
		enh  [3]int
		says string
	}{
		{"attachment too large", []byte(bigAttachment), 552, [3]int{5, 3, 4}, "attachment 0.pdf is larger than 16384 bytes"},
		{"too many attachments", manyParts(3, "application/pdf"), 552, [3]int{5, 3, 4}, "more than 2 attachments"},
		{"too many parts", manyParts(150, "text/plain"), 554, [3]int{5, 6, 0}, "more than 100 MIME parts"},
		{"nested too deep", nested(50), 554, [3]int{5, 6, 0}, "nested deeper than 10"},
		{"bad-header.eml", corpus(t, "bad-header.eml"), 554, [3]int{5, 6, 0}, "bad message header"},
		{"line too long", []byte(longLine), 500, [3]int{5, 5, 2}, "Line too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := send(t, e, "a@example.cn", []string{boxAddr}, tc.data)
			code, enh := smtpCode(err)
			require.Equal(t, tc.code, code, "%v", err)
			require.Equal(t, tc.enh, [3]int(enh))
			require.Contains(t, err.Error(), tc.says)
		})
	}
	n, err := e.rdb.Keys(ctx(t), "{lianxin}:c:*").Result()
	require.NoError(t, err)
	require.Empty(t, n, "no contact from a refused letter")
	var files []string
	require.NoError(t, filepath.WalkDir(e.blobDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	}))
	require.Empty(t, files, "a refused letter's attachments were kept (stored or staged)")
}

// TestOversize: a letter past max_message_bytes is refused 552 5.3.4.
func TestOversize(t *testing.T) {
	e := start(t, queuetest.Miniredis(t), nil, func(o *Options) { o.MaxMessageBytes, o.MaxAttachmentBytes = 64<<10, 64<<10 })
	err := send(t, e, "big@example.cn", []string{boxAddr}, corpus(t, "oversize.eml"))
	code, enh := smtpCode(err)
	require.Equal(t, 552, code, "%v", err)
	require.Equal(t, [3]int{5, 3, 4}, [3]int(enh))
	require.Contains(t, err.Error(), "Message size exceeds the fixed maximum message size")
}

// TestSizeAnnounced: a sender that announces SIZE past the limit is refused
// before it sends a byte of the message.
func TestSizeAnnounced(t *testing.T) {
	e := start(t, queuetest.Miniredis(t), nil, func(o *Options) { o.MaxMessageBytes, o.MaxAttachmentBytes = 64<<10, 64<<10 })
	conn, err := net.Dial("tcp", e.addr)
	require.NoError(t, err)
	defer conn.Close()
	r := bufio.NewReader(conn)
	// read returns one whole reply: its lines up to the last ("NNN text").
	read := func() string {
		var b strings.Builder
		for {
			line, err := r.ReadString('\n')
			b.WriteString(line)
			if err != nil || len(line) < 4 || line[3] == ' ' {
				return b.String()
			}
		}
	}
	require.Contains(t, read(), "220")
	_, _ = conn.Write([]byte("EHLO sender.test\r\n"))
	require.Contains(t, read(), "SIZE 65536")
	_, _ = conn.Write([]byte("MAIL FROM:<a@example.cn> SIZE=1000000\r\n"))
	require.Contains(t, read(), "552 5.3.4")
}

// TestRedisDown: with Redis gone the sender gets 451 4.3.0 and will retry;
// no acknowledgement goes out.
func TestRedisDown(t *testing.T) {
	rs := queuetest.RedisServer(t)
	relay := newFakeRelay(t)
	e := start(t, rs, relay, nil)
	rs.Kill()
	err := send(t, e, "a@example.cn", []string{boxAddr}, corpus(t, "utf8.eml"))
	code, enh := smtpCode(err)
	require.Equal(t, 451, code, "%v", err)
	require.Equal(t, [3]int{4, 3, 0}, [3]int(enh))
	e.stop() // the outbox is drained or dropped: nothing was queued
	require.Empty(t, relay.messages())
}

// TestMaxConnections: past the limit, the oldest idle connection is closed
// for the new one (that every connection busy gets the new one 421 is
// connlimit's TestRefusedWhenAllBusy).
func TestMaxConnections(t *testing.T) {
	e := start(t, queuetest.Miniredis(t), nil, func(o *Options) { o.MaxConnections = 1 })
	buf := make([]byte, 512)
	greet := func() net.Conn {
		c, err := net.Dial("tcp", e.addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		n, _ := c.Read(buf)
		require.Contains(t, string(buf[:n]), "220")
		return c
	}
	idle := greet()
	greet() // the idle one made room
	_ = idle.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := idle.Read(buf)
	require.Error(t, err, "the idle connection was closed")
}

// TestIdleFloodKeepsOthersIn: 200 idle connections from one address (the
// issue: they got everyone else 421 for up to 5 minutes) hold at most
// MaxConnectionsPerSource places, and a sender who connects after them is
// greeted and its letter taken (issue 7 #6).
func TestIdleFloodKeepsOthersIn(t *testing.T) {
	e := start(t, queuetest.Miniredis(t), nil, nil)
	const flood = 200
	held, refused := 0, 0
	conns := make([]net.Conn, 0, flood)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	buf := make([]byte, 512)
	for range flood {
		c, err := net.Dial("tcp", e.addr)
		require.NoError(t, err)
		conns = append(conns, c)
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, _ := c.Read(buf)
		if strings.HasPrefix(string(buf[:n]), "421") {
			refused++
		}
	}
	for _, c := range conns { // still open: a read waits; closed: EOF at once
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.Read(buf); err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			held++
		}
	}
	t.Logf("%d idle connections from one address: %d still held, %d refused", flood, held, refused)
	require.LessOrEqual(t, held, 20, "the flood holds at most max_connections_per_source")
	require.Zero(t, refused, "an idle connection makes room rather than a new one being refused")
	require.NoError(t, send(t, e, "a@example.cn", []string{boxAddr}, corpus(t, "utf8.eml")), "a sender after the flood gets in")
}
