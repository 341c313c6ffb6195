package email

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/lianxin/lianxin/channels/connlimit"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// Run listens on Options.Addr and sends acknowledgements until ctx ends.
// Shutdown order: stop accepting; let letters being received finish, up to
// ShutdownGrace; close every connection; stop the acknowledgement workers
// once the tries under way end (within Relay.Timeout); acknowledgements
// still waiting are logged and dropped.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	return s.Serve(ctx, s.ln)
}

// Listen opens the listener on Options.Addr, so that a node that cannot bind
// its SMTP port fails at start and not once it runs, and Addr tells the port
// chosen for ":0". Run serves it; without Listen, Run opens it.
func (s *Server) Listen() error {
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.o.Addr)
	if err != nil {
		return fmt.Errorf("smtp.addr: %w", err)
	}
	s.ln = ln
	return nil
}

// Addr is the listener's address once Listen has run, else nil.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve is Run on a listener the caller opened; it closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.relay == nil {
		s.log.Warn("no outbound SMTP relay (smtp.relay.addr): no acknowledgements are sent and replies cannot go out")
	}
	// connlimit bounds the connections in all and per sender address,
	// closing the oldest idle one (not receiving a letter) for a new one;
	// countingListener keeps them for shutdown.
	lim := connlimit.New(ln, connlimit.Limits{Max: s.o.MaxConnections, PerSource: s.o.MaxConnectionsPerSource,
		Refuse: func(c net.Conn) { _, _ = c.Write([]byte(replyTooManyConns)) }})
	cl := &countingListener{Listener: lim, max: s.o.MaxConnections + 1, conns: map[net.Conn]struct{}{}}
	var busy atomic.Int64
	base := context.WithoutCancel(ctx)
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, base: base, busy: &busy, conn: c, raw: c.Conn(),
			log: s.log.With(zap.String("peer", c.Conn().RemoteAddr().String()))}, nil
	}))
	srv.Domain = s.o.Domain
	srv.TLSConfig = s.tls // STARTTLS is offered; AUTH is not, so it is never required
	srv.ReadTimeout = s.o.ReadTimeout
	srv.WriteTimeout = s.o.WriteTimeout
	srv.MaxMessageBytes = s.o.MaxMessageBytes
	srv.MaxRecipients = s.o.MaxRecipients
	srv.MaxLineLength = s.o.MaxLineLength
	srv.ErrorLog = errorLog{s.log.Named("smtp")}
	s.log.Info("smtp listening", zap.String("addr", ln.Addr().String()))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := srv.Serve(cl)
		if gctx.Err() != nil {
			return nil // we closed the listener
		}
		return err
	})
	g.Go(func() error { return s.out.run(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		_ = cl.Close()
		waitIdle(&busy, s.o.ShutdownGrace)
		_ = srv.Close()
		cl.closeAll()
		cl.wait()
		return nil
	})
	err := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// waitIdle waits until no letter is being received, at most d.
func waitIdle(busy *atomic.Int64, d time.Duration) {
	deadline := time.Now().Add(d)
	for busy.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// countingListener refuses connections past max with 421 and keeps the
// open ones, so that shutdown can close them and wait until they are.
type countingListener struct {
	net.Listener
	max   int
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func (l *countingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		full := len(l.conns) >= l.max
		if !full {
			l.conns[c] = struct{}{}
			l.wg.Add(1)
		}
		l.mu.Unlock()
		if full {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte(replyTooManyConns))
			_ = c.Close()
			continue
		}
		return &trackedConn{Conn: c, l: l}, nil
	}
}

func (l *countingListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		_ = c.Close()
	}
}

func (l *countingListener) wait() { l.wg.Wait() }

type trackedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

// setBusy marks the connection as receiving a letter: it is not closed to
// make room for another.
func setBusy(c net.Conn, busy bool) {
	if t, ok := c.(*trackedConn); ok {
		connlimit.ConnState(t.Conn, busy)
	}
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c.Conn)
		c.l.mu.Unlock()
		c.l.wg.Done()
	})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
