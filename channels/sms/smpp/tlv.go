package smpp

import (
	"encoding/binary"
	"fmt"
)

// TLV is an optional parameter.
type TLV struct {
	Tag   uint16
	Value []byte
}

// Tags of the optional parameters this package reads or writes.
const (
	TagReceiptedMessageID uint16 = 0x001E
	TagSarMsgRefNum       uint16 = 0x020C
	TagSarTotalSegments   uint16 = 0x020E
	TagSarSegmentSeqnum   uint16 = 0x020F
	TagMessagePayload     uint16 = 0x0424
	TagMessageState       uint16 = 0x0427
)

// Message states of TagMessageState (SMPP 3.4, 5.2.28).
var messageStates = map[byte]string{1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV",
	6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD"}

// TLV returns the value of the first TLV with tag, and whether there is one.
func (sm *SM) TLV(tag uint16) ([]byte, bool) {
	for _, t := range sm.TLVs {
		if t.Tag == tag {
			return t.Value, true
		}
	}
	return nil, false
}

// Payload is the message's user data: message_payload when present (and
// then short_message must be empty), short_message otherwise.
func (sm *SM) Payload() ([]byte, error) {
	p, ok := sm.TLV(TagMessagePayload)
	if !ok {
		return sm.ShortMessage, nil
	}
	if len(sm.ShortMessage) > 0 {
		return nil, fmt.Errorf("%w: message_payload: present with a non-empty short_message", ErrBody)
	}
	return p, nil
}

func (e *encoder) tlvs(ts []TLV) {
	for _, t := range ts {
		if e.err != nil {
			return
		}
		if len(t.Value) > 0xFFFF {
			e.err = fmt.Errorf("%w: TLV 0x%04X: %d octets is more than 65535", ErrEncode, t.Tag, len(t.Value))
			return
		}
		e.b = binary.BigEndian.AppendUint16(e.b, t.Tag)
		e.b = binary.BigEndian.AppendUint16(e.b, uint16(len(t.Value)))
		e.b = append(e.b, t.Value...)
	}
}
