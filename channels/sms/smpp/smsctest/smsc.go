// Package smsctest is an SMS centre for tests: it listens on a loopback TCP
// port and speaks real SMPP 3.4 PDUs to the ESME under test. It accepts
// binds (checking system_id and password), sends deliver_sm and waits for
// deliver_sm_resp, answers submit_sm with a message id (and, if asked, a
// delivery receipt), answers and sends enquire_link, and unbinds.
package smsctest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/sms/smpp"
)

// Options configure the test SMSC.
type Options struct {
	SystemID, Password string
	// Receipts sends a DELIVRD receipt for each submit_sm that asks for one.
	Receipts bool
	// SubmitStatus, when set, answers every submit_sm with this status.
	SubmitStatus smpp.Status
}

// Server is a running test SMSC.
type Server struct {
	Addr string
	o    Options
	ln   net.Listener

	sessions chan *Session
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[*Session]struct{}
	closed   bool
	// Binds counts bind attempts, accepted or not.
	binds int
}

// Start starts a test SMSC on a free loopback port, stopped when the test
// ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smsctest: listen: %v", err)
	}
	s := &Server{Addr: ln.Addr().String(), o: o, ln: ln, sessions: make(chan *Session, 16),
		conns: map[*Session]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

// Binds is the number of bind requests seen so far.
func (s *Server) Binds() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.binds
}

// Close stops listening and ends every session.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for ss := range s.conns {
		_ = ss.conn.Close()
	}
	s.mu.Unlock()
	_ = s.ln.Close()
	s.wg.Wait()
}

// Session waits for the next ESME to bind.
func (s *Server) Session(ctx context.Context) (*Session, error) {
	select {
	case ss := <-s.sessions:
		return ss, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("smsctest: no bind: %w", ctx.Err())
	}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
		}()
	}
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := smpp.ReadFrame(c, nil, smpp.MaxPDU)
	if err != nil {
		return
	}
	p, err := smpp.Unmarshal(b)
	if err != nil || p.Bind == nil {
		_, _, seq := smpp.Header(b)
		_ = write(c, &smpp.PDU{ID: smpp.GenericNack, Status: smpp.StatusInvBndSts, Seq: seq})
		return
	}
	s.mu.Lock()
	s.binds++
	s.mu.Unlock()
	resp := &smpp.PDU{ID: p.ID.Resp(), Seq: p.Seq, SystemID: "smsctest"}
	switch {
	case p.Bind.SystemID != s.o.SystemID:
		resp.Status, resp.SystemID = smpp.StatusInvSysID, ""
	case p.Bind.Password != s.o.Password:
		resp.Status, resp.SystemID = smpp.StatusInvPaswd, ""
	}
	if write(c, resp) != nil || resp.Status != smpp.StatusOK {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	ss := newSession(s, c, p)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.conns[ss] = struct{}{}
	s.mu.Unlock()
	s.sessions <- ss
	ss.read()
	s.mu.Lock()
	delete(s.conns, ss)
	s.mu.Unlock()
}

func write(c net.Conn, p *smpp.PDU) error {
	b, err := p.Marshal()
	if err != nil {
		return err
	}
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Write(b)
	return err
}

// ErrClosed: the session ended before the answer came.
var ErrClosed = errors.New("smsctest: session closed")
