package smsctest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/lianxin/lianxin/channels/sms/smpp"
)

// Session is one bound ESME.
type Session struct {
	s    *Server
	conn net.Conn
	// Bind is the ESME's bind request.
	Bind *smpp.PDU

	wmu     sync.Mutex
	mu      sync.Mutex
	seq     uint32
	pending map[uint32]chan *smpp.PDU
	msgID   int
	done    chan struct{}

	// Submits receives every submit_sm the ESME sends (buffered; a test
	// that ignores them loses the overflow, not the session).
	Submits chan *smpp.PDU
	// Nacks receives generic_nack PDUs the ESME sends.
	Nacks chan *smpp.PDU
}

func newSession(s *Server, c net.Conn, bind *smpp.PDU) *Session {
	return &Session{s: s, conn: c, Bind: bind, pending: map[uint32]chan *smpp.PDU{}, done: make(chan struct{}),
		Submits: make(chan *smpp.PDU, 4096), Nacks: make(chan *smpp.PDU, 64)}
}

// Done is closed when the session ends.
func (ss *Session) Done() <-chan struct{} { return ss.done }

func (ss *Session) read() {
	defer func() {
		close(ss.done)
		_ = ss.conn.Close()
	}()
	var buf []byte
	for {
		b, err := smpp.ReadFrame(ss.conn, buf, smpp.MaxPDU)
		if err != nil {
			return
		}
		buf = b
		p, err := smpp.Unmarshal(b)
		if err != nil {
			_, _, seq := smpp.Header(b)
			_ = ss.write(&smpp.PDU{ID: smpp.GenericNack, Status: smpp.StatusInvCmdLen, Seq: seq})
			continue
		}
		switch p.ID {
		case smpp.EnquireLink:
			_ = ss.write(&smpp.PDU{ID: smpp.EnquireLinkResp, Seq: p.Seq})
		case smpp.Unbind:
			_ = ss.write(&smpp.PDU{ID: smpp.UnbindResp, Seq: p.Seq})
			return
		case smpp.SubmitSM:
			ss.submit(p)
		case smpp.GenericNack:
			select {
			case ss.Nacks <- p:
			default:
			}
			ss.answer(p)
		default:
			if p.ID.IsResponse() {
				ss.answer(p)
			} else {
				_ = ss.write(&smpp.PDU{ID: smpp.GenericNack, Status: smpp.StatusInvCmdID, Seq: p.Seq})
			}
		}
	}
}

func (ss *Session) answer(p *smpp.PDU) {
	ss.mu.Lock()
	ch := ss.pending[p.Seq]
	delete(ss.pending, p.Seq)
	ss.mu.Unlock()
	if ch != nil {
		ch <- p
	}
}

func (ss *Session) submit(p *smpp.PDU) {
	ss.mu.Lock()
	ss.msgID++
	id := strconv.FormatInt(int64(0xA000+ss.msgID), 16)
	ss.mu.Unlock()
	st := ss.s.o.SubmitStatus
	resp := &smpp.PDU{ID: smpp.SubmitSMResp, Seq: p.Seq, Status: st}
	if st == smpp.StatusOK {
		resp.MessageID = id
	}
	_ = ss.write(resp)
	select {
	case ss.Submits <- p:
	default:
	}
	if st == smpp.StatusOK && ss.s.o.Receipts && p.SM.RegisteredDelivery&0x03 != 0 {
		go func() {
			// The receipt gives the id in decimal, as many SMSCs do.
			dec, _ := strconv.ParseInt(id, 16, 64)
			sm := &smpp.SM{Source: p.SM.Dest, Dest: p.SM.Source, ESMClass: smpp.ESMReceipt,
				ShortMessage: fmt.Appendf(nil, "id:%d sub:001 dlvrd:001 submit date:2503010900 "+
					"done date:2503010901 stat:DELIVRD err:000 text:", dec)}
			_, _ = ss.Deliver(context.Background(), sm)
		}()
	}
}

func (ss *Session) write(p *smpp.PDU) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	return write(ss.conn, p)
}

// WriteRaw writes bytes as they are, for tests of malformed PDUs.
func (ss *Session) WriteRaw(b []byte) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	_, err := ss.conn.Write(b)
	return err
}

// Send sends a request PDU (its Seq is set) and returns a channel that gets
// its response.
func (ss *Session) Send(p *smpp.PDU) (<-chan *smpp.PDU, error) {
	ch := make(chan *smpp.PDU, 1)
	ss.mu.Lock()
	ss.seq++
	p.Seq = ss.seq
	ss.pending[p.Seq] = ch
	ss.mu.Unlock()
	if err := ss.write(p); err != nil {
		ss.mu.Lock()
		delete(ss.pending, p.Seq)
		ss.mu.Unlock()
		return nil, err
	}
	return ch, nil
}

// Deliver sends a deliver_sm and returns the status of its deliver_sm_resp.
func (ss *Session) Deliver(ctx context.Context, sm *smpp.SM) (smpp.Status, error) {
	ch, err := ss.Send(&smpp.PDU{ID: smpp.DeliverSM, SM: sm})
	if err != nil {
		return 0, err
	}
	return ss.Wait(ctx, ch)
}

// Wait waits for the response on ch and returns its status.
func (ss *Session) Wait(ctx context.Context, ch <-chan *smpp.PDU) (smpp.Status, error) {
	select {
	case p := <-ch:
		if p.ID == smpp.GenericNack {
			return p.Status, fmt.Errorf("smsctest: generic_nack %s", p.Status)
		}
		return p.Status, nil
	case <-ss.done:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Close drops the connection without unbinding.
func (ss *Session) Close() { _ = ss.conn.Close() }
