package smpp

import (
	"fmt"
	"strings"
)

// Receipt is a delivery receipt's content (SMPP 3.4, Appendix B): "id:IIII
// sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD
// err:E text:…". The receipted_message_id and message_state TLVs, when
// present, win over the text.
type Receipt struct {
	ID         string
	Stat       string // DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD, ENROUTE
	Err        string
	SubmitDate string
	DoneDate   string
}

// Delivered reports whether the receipt says the message reached the phone.
func (r Receipt) Delivered() bool { return r.Stat == "DELIVRD" }

// Final reports whether no further receipt will follow.
func (r Receipt) Final() bool { return r.Stat != "ENROUTE" && r.Stat != "ACCEPTD" && r.Stat != "" }

// ParseReceipt reads a deliver_sm that is a delivery receipt.
func ParseReceipt(sm *SM) (Receipt, error) {
	var r Receipt
	text := sm.ShortMessage
	if p, ok := sm.TLV(TagMessagePayload); ok && len(text) == 0 {
		text = p
	}
	for i, c := range text {
		if c < 0x20 || c > 0x7E {
			if c == '\n' || c == '\r' || c == '\t' || c == 0 {
				continue
			}
			return r, fmt.Errorf("%w: receipt text: octet %d is 0x%02X, not ASCII", ErrBody, i, c)
		}
	}
	s := strings.ReplaceAll(string(text), "\x00", "")
	low := strings.ToLower(s)
	field := func(name string) string {
		i := strings.Index(low, name+":")
		if i < 0 {
			return ""
		}
		v := s[i+len(name)+1:]
		if j := strings.IndexAny(v, " \t\r\n"); j >= 0 {
			v = v[:j]
		}
		return v
	}
	r.ID = field("id")
	r.Stat = strings.ToUpper(field("stat"))
	r.Err = field("err")
	r.SubmitDate = field("submit date")
	r.DoneDate = field("done date")
	if v, ok := sm.TLV(TagReceiptedMessageID); ok {
		if id := strings.TrimRight(string(v), "\x00"); id != "" && printable(id) {
			r.ID = id
		}
	}
	if v, ok := sm.TLV(TagMessageState); ok && len(v) == 1 {
		if st, ok := messageStates[v[0]]; ok {
			r.Stat = st
		}
	}
	if r.ID == "" {
		return r, fmt.Errorf("%w: receipt has no message id (id: or receipted_message_id)", ErrBody)
	}
	if r.Stat == "" {
		return r, fmt.Errorf("%w: receipt for %s has no state (stat: or message_state)", ErrBody, r.ID)
	}
	return r, nil
}
