package sms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/lianxin/lianxin/channels/sms/smpp"
	"go.uber.org/zap"
)

// job is a message (or receipt) to store, with the deliver_sm sequence
// numbers to answer once it is stored.
type job struct {
	seqs    []uint32
	receipt *smpp.SM
	src     string
	dst     string
	dc      byte
	data    []byte
	key     string // sender, recipient, kind and reference of a long message
	total   int
	missing []int
}

func jobFromAssembled(m *smpp.Assembled[uint32]) job {
	// The key is "src|dst|dc|kind|ref|total"; see deliverSM.
	f := strings.SplitN(m.Key, "|", 4)
	dc, _ := strconv.Atoi(f[2])
	return job{seqs: m.Tags, src: f[0], dst: f[1], dc: byte(dc), data: m.Data, key: m.Key, total: m.Total,
		missing: m.Missing}
}

// read reads PDUs until the connection ends.
func (s *session) read() {
	defer close(s.done)
	var buf []byte
	for {
		// Silence longer than two enquire_link periods means the link is gone.
		_ = s.conn.SetReadDeadline(s.g.now().Add(2*s.g.c.SMPP.EnquireLink + s.g.c.SMPP.ResponseTimeout))
		b, err := smpp.ReadFrame(s.conn, buf, s.g.c.SMPP.MaxPDU)
		if errors.Is(err, smpp.ErrFrame) {
			_, _, seq := smpp.Header(b)
			_ = s.write(&smpp.PDU{ID: smpp.GenericNack, Status: smpp.StatusInvCmdLen, Seq: seq})
			s.readErr = fmt.Errorf("sms: closing the link: %w", err)
			return
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.readErr = fmt.Errorf("sms: read: %w", err)
			} else {
				s.readErr = errors.New("sms: the SMSC closed the connection")
			}
			return
		}
		buf = b
		p, err := smpp.Unmarshal(b)
		if err != nil {
			s.bad(b, err)
			continue
		}
		switch {
		case p.ID == smpp.DeliverSM:
			s.deliverSM(p)
		case p.ID == smpp.EnquireLink:
			_ = s.write(&smpp.PDU{ID: smpp.EnquireLinkResp, Seq: p.Seq})
		case p.ID == smpp.Unbind:
			_ = s.write(&smpp.PDU{ID: smpp.UnbindResp, Seq: p.Seq})
			s.readErr = errors.New("sms: the SMSC unbound")
			return
		case p.ID.IsResponse():
			s.mu.Lock()
			w, ok := s.pending[p.Seq]
			s.mu.Unlock()
			if ok {
				if w.hook != nil {
					w.hook(p)
				}
				select {
				case w.ch <- p:
				default:
				}
			}
			if p.ID == smpp.UnbindResp {
				s.readErr = nil
				return
			}
		default:
			_ = s.write(&smpp.PDU{ID: smpp.GenericNack, Status: smpp.StatusInvCmdID, Seq: p.Seq})
		}
	}
}

// bad answers a PDU whose header is sound but whose body is not: its own
// response with an error status, or generic_nack.
func (s *session) bad(b []byte, err error) {
	id, _, seq := smpp.Header(b)
	s.log.Warn("bad PDU from the SMSC", zap.Stringer("command", id), zap.Error(err))
	switch {
	case id.IsResponse():
		return
	case id == smpp.DeliverSM:
		st := smpp.StatusInvCmdLen
		if strings.Contains(err.Error(), "TLV") {
			st = smpp.StatusInvOptPar
		}
		_ = s.write(&smpp.PDU{ID: smpp.DeliverSMResp, Seq: seq, Status: st})
	default:
		_ = s.write(&smpp.PDU{ID: smpp.GenericNack, Status: smpp.StatusInvCmdID, Seq: seq})
	}
}

// deliverSM files a deliver_sm: receipts and whole messages go to a worker
// at once; parts of a long message wait in the assembler for the rest.
func (s *session) deliverSM(p *smpp.PDU) {
	sm := p.SM
	if sm.IsReceipt() {
		s.dispatch(context.Background(), job{seqs: []uint32{p.Seq}, receipt: sm, src: sm.Source.Addr})
		return
	}
	ud, err := sm.Payload()
	var c *smpp.Concat
	if err == nil && sm.ESMClass&smpp.ESMUDHI != 0 {
		c, ud, err = smpp.SplitUDH(ud)
	}
	if err == nil && c == nil {
		c, err = smpp.SAR(sm)
	}
	if err != nil {
		s.log.Warn("deliver_sm refused", zap.Error(err))
		_ = s.write(&smpp.PDU{ID: smpp.DeliverSMResp, Seq: p.Seq, Status: smpp.StatusRxPAppn})
		return
	}
	j := job{seqs: []uint32{p.Seq}, src: sm.Source.Addr, dst: sm.Dest.Addr, dc: sm.DataCoding, data: ud, total: 1}
	if c == nil || c.Total == 1 {
		s.dispatch(context.Background(), j)
		return
	}
	key := fmt.Sprintf("%s|%s|%d|%s|%d|%d", sm.Source.Addr, sm.Dest.Addr, sm.DataCoding, c.Kind, c.Ref, c.Total)
	s.amu.Lock()
	m, err := s.asm.Add(s.g.now(), key, *c, ud, p.Seq)
	s.amu.Unlock()
	switch {
	case errors.Is(err, smpp.ErrTooManyPending):
		s.log.Warn("too many unfinished long messages; part refused for now")
		_ = s.write(&smpp.PDU{ID: smpp.DeliverSMResp, Seq: p.Seq, Status: smpp.StatusRxTAppn})
	case err != nil:
		s.log.Warn("deliver_sm part refused", zap.Error(err))
		_ = s.write(&smpp.PDU{ID: smpp.DeliverSMResp, Seq: p.Seq, Status: smpp.StatusRxPAppn})
	case m != nil:
		s.dispatch(context.Background(), jobFromAssembled(m))
	}
}
