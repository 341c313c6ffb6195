package sms

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lianxin/lianxin/channels/sms/smpp"
	"go.uber.org/zap"
)

var errSessionClosed = errors.New("sms: SMPP session closed")

// session is one bound SMPP connection. Its reader answers enquire_link and
// unbind at once, matches responses to our requests, and files deliver_sm
// for the workers, which answer them once stored. Shutdown order: unbind
// (bounded by the response timeout), close the connection, wait for the
// reader, close the workers' queues, wait for the workers.
type session struct {
	g           *Gateway
	conn        net.Conn
	log         *zap.Logger
	transceiver bool

	wmu  sync.Mutex
	wbuf []byte

	seq     atomic.Uint32
	mu      sync.Mutex
	pending map[uint32]waiter
	window  chan struct{}
	done    chan struct{} // closed when the reader ends
	readErr error

	amu  sync.Mutex
	asm  *smpp.Assembler[uint32]
	work []chan job
}

func newSession(g *Gateway, conn net.Conn, transceiver bool) *session {
	c := g.c.SMPP
	s := &session{g: g, conn: conn, log: g.log.With(zap.String("smsc", c.Addr)), transceiver: transceiver,
		pending: map[uint32]waiter{}, window: make(chan struct{}, c.Window), done: make(chan struct{}),
		asm: smpp.NewAssembler[uint32](c.PartTimeout, c.MaxPending)}
	s.seq.Store(1) // 1 was the bind
	for range c.Workers {
		s.work = append(s.work, make(chan job, 64))
	}
	return s
}

// serve runs the session until the link drops or ctx ends.
func (s *session) serve(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, ch := range s.work {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				s.handle(ctx, j)
			}
		}()
	}
	go s.read()
	if s.transceiver {
		s.g.cur.Store(s)
	}
	err := s.loop(ctx)
	s.g.cur.CompareAndSwap(s, nil)
	_ = s.conn.Close()
	<-s.done
	for _, ch := range s.work {
		close(ch)
	}
	wg.Wait()
	if n := len(s.asm.Drop()); n > 0 {
		s.log.Info("unfinished long messages dropped with the link; the SMSC will send them again",
			zap.Int("parts", n))
	}
	return err
}

// loop checks the link and expires long messages until the reader ends or
// ctx does.
func (s *session) loop(ctx context.Context) error {
	c := s.g.c.SMPP
	link := time.NewTicker(c.EnquireLink)
	defer link.Stop()
	expire := time.NewTicker(min(c.PartTimeout/4, time.Second))
	defer expire.Stop()
	for {
		select {
		case <-ctx.Done():
			s.unbind()
			return nil
		case <-s.done:
			return s.readErr
		case <-link.C:
			rctx, cancel := context.WithTimeout(ctx, c.ResponseTimeout)
			_, err := s.request(rctx, &smpp.PDU{ID: smpp.EnquireLink})
			cancel()
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("sms: enquire_link: %w", err)
			}
		case <-expire.C:
			s.amu.Lock()
			late := s.asm.Expire(s.g.now())
			s.amu.Unlock()
			for _, m := range late {
				s.dispatch(ctx, jobFromAssembled(m))
			}
		}
	}
}

// unbind says goodbye; the SMSC's answer (or the timeout) ends the session.
func (s *session) unbind() {
	ctx, cancel := context.WithTimeout(context.Background(), s.g.c.SMPP.ResponseTimeout)
	defer cancel()
	if _, err := s.request(ctx, &smpp.PDU{ID: smpp.Unbind}); err != nil {
		s.log.Info("unbind not answered", zap.Error(err))
	}
}

// write sends one PDU, bounded by the response timeout.
func (s *session) write(p *smpp.PDU) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	b, err := p.AppendTo(s.wbuf[:0])
	if err != nil {
		return err
	}
	s.wbuf = b
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.g.c.SMPP.ResponseTimeout))
	_, err = s.conn.Write(b)
	return err
}

// waiter waits for the response to one request. hook, if set, runs in the
// reader as the response arrives, before any later PDU is looked at (so a
// submit_sm's message id is tracked before its receipt can come).
type waiter struct {
	ch   chan *smpp.PDU
	hook func(*smpp.PDU)
}

// request sends p with the next sequence number and waits for its answer,
// within the window of outstanding requests.
func (s *session) request(ctx context.Context, p *smpp.PDU) (*smpp.PDU, error) {
	return s.requestHook(ctx, p, nil)
}

func (s *session) requestHook(ctx context.Context, p *smpp.PDU, hook func(*smpp.PDU)) (*smpp.PDU, error) {
	select {
	case s.window <- struct{}{}:
		defer func() { <-s.window }()
	case <-s.done:
		return nil, errSessionClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.Seq = s.seq.Add(1) & 0x7FFFFFFF
	ch := make(chan *smpp.PDU, 1)
	s.mu.Lock()
	s.pending[p.Seq] = waiter{ch: ch, hook: hook}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, p.Seq)
		s.mu.Unlock()
	}()
	if err := s.write(p); err != nil {
		return nil, fmt.Errorf("sms: send %s: %w", p.ID, err)
	}
	select {
	case r := <-ch:
		if r.ID == smpp.GenericNack {
			return r, fmt.Errorf("sms: SMSC answered %s with generic_nack %s", p.ID, r.Status)
		}
		return r, nil
	case <-s.done:
		return nil, errSessionClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("sms: no answer to %s: %w", p.ID, ctx.Err())
	}
}

// dispatch hands a job to the worker of its sender, so that one citizen's
// messages are stored in order.
func (s *session) dispatch(ctx context.Context, j job) {
	h := fnv.New32a()
	h.Write([]byte(j.src))
	select {
	case s.work[h.Sum32()%uint32(len(s.work))] <- j:
	case <-ctx.Done():
	case <-s.done:
	}
}

func (s *session) respond(seqs []uint32, st smpp.Status) {
	for _, q := range seqs {
		if err := s.write(&smpp.PDU{ID: smpp.DeliverSMResp, Seq: q, Status: st}); err != nil {
			s.log.Info("deliver_sm_resp not sent; the SMSC will deliver again", zap.Error(err))
			return
		}
	}
}
