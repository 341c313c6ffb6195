package smpp

import (
	"encoding/binary"
	"fmt"
)

// Concat says which part of a long message a short message is.
type Concat struct {
	// Kind: "udh8" (IE 0x00), "udh16" (IE 0x08) or "sar" (TLVs). One
	// reference may be in use in each at once, so it is part of the key.
	Kind  string
	Ref   uint16
	Total int // 1–255
	Seq   int // 1–Total
}

// SplitUDH separates a user data header from the user data when the UDHI
// bit is set, and reads its concatenation IE if any. Other IEs (ports,
// national language shifts) are skipped.
func SplitUDH(ud []byte) (c *Concat, rest []byte, err error) {
	if len(ud) == 0 {
		return nil, nil, fmt.Errorf("%w: UDHI set but the message is empty", ErrUDH)
	}
	n := int(ud[0])
	if 1+n > len(ud) {
		return nil, nil, fmt.Errorf("%w: UDHL %d is longer than the %d octets that follow", ErrUDH, n, len(ud)-1)
	}
	h := ud[1 : 1+n]
	for len(h) > 0 {
		if len(h) < 2 {
			return nil, nil, fmt.Errorf("%w: a stray octet at the end of the header", ErrUDH)
		}
		iei, l := h[0], int(h[1])
		if 2+l > len(h) {
			return nil, nil, fmt.Errorf("%w: IE 0x%02X length %d overruns the header", ErrUDH, iei, l)
		}
		v := h[2 : 2+l]
		switch iei {
		case 0x00:
			if l != 3 {
				return nil, nil, fmt.Errorf("%w: IE 0x00 (8-bit reference) has length %d, not 3", ErrUDH, l)
			}
			c = &Concat{Kind: "udh8", Ref: uint16(v[0]), Total: int(v[1]), Seq: int(v[2])}
		case 0x08:
			if l != 4 {
				return nil, nil, fmt.Errorf("%w: IE 0x08 (16-bit reference) has length %d, not 4", ErrUDH, l)
			}
			c = &Concat{Kind: "udh16", Ref: binary.BigEndian.Uint16(v), Total: int(v[2]), Seq: int(v[3])}
		}
		h = h[2+l:]
	}
	if c != nil {
		if err := c.check(); err != nil {
			return nil, nil, err
		}
	}
	return c, ud[1+n:], nil
}

// SAR reads the sar_msg_ref_num, sar_total_segments and sar_segment_seqnum
// TLVs; nil when none is present.
func SAR(sm *SM) (*Concat, error) {
	ref, okRef := sm.TLV(TagSarMsgRefNum)
	tot, okTot := sm.TLV(TagSarTotalSegments)
	seq, okSeq := sm.TLV(TagSarSegmentSeqnum)
	if !okRef && !okTot && !okSeq {
		return nil, nil
	}
	if !okRef || !okTot || !okSeq {
		return nil, fmt.Errorf("%w: SAR TLVs 0x020C, 0x020E and 0x020F must come together", ErrUDH)
	}
	if len(ref) != 2 || len(tot) != 1 || len(seq) != 1 {
		return nil, fmt.Errorf("%w: SAR TLV lengths %d/%d/%d, want 2/1/1", ErrUDH, len(ref), len(tot), len(seq))
	}
	c := &Concat{Kind: "sar", Ref: binary.BigEndian.Uint16(ref), Total: int(tot[0]), Seq: int(seq[0])}
	return c, c.check()
}

func (c *Concat) check() error {
	if c.Total < 1 || c.Seq < 1 || c.Seq > c.Total {
		return fmt.Errorf("%w: part %d of %d", ErrUDH, c.Seq, c.Total)
	}
	return nil
}

// UDH8 is the 6-octet user data header of part seq of total with an 8-bit
// reference.
func UDH8(ref byte, total, seq int) []byte {
	return []byte{5, 0x00, 3, ref, byte(total), byte(seq)}
}

// UDH16 is the 7-octet header with a 16-bit reference.
func UDH16(ref uint16, total, seq int) []byte {
	return []byte{6, 0x08, 4, byte(ref >> 8), byte(ref), byte(total), byte(seq)}
}
