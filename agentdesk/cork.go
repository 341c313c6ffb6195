package agentdesk

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
)

// corkConn holds back what is written to a desk's connection while corked
// and writes it in one go when uncorked: the messages the writer has ready
// together (an offer and the state that comes with it) leave in one write
// instead of a write each. Each message stays its own websocket frame.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what was held back, and what follows goes straight out.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > 64<<10 {
		c.buf = nil // a big batch's buffer is not kept for the desk's life
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// corkWriter hands the websocket upgrade a corkConn for the connection it
// takes over; conn is set once it has.
type corkWriter struct {
	http.ResponseWriter
	conn *corkConn
}

func (w *corkWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("agentdesk: connection cannot be taken over")
	}
	nc, rw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &corkConn{Conn: nc}
	return w.conn, rw, nil
}
