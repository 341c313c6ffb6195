package smpp

import (
	"encoding/binary"
	"fmt"
)

// AppendTo appends the PDU's bytes to b.
func (p *PDU) AppendTo(b []byte) ([]byte, error) {
	start := len(b)
	e := encoder{b: b}
	e.b = binary.BigEndian.AppendUint32(e.b, 0) // length, set below
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(p.ID))
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(p.Status))
	e.b = binary.BigEndian.AppendUint32(e.b, p.Seq)
	switch p.ID {
	case BindReceiver, BindTransmitter, BindTransceiver:
		bd := p.Bind
		if bd == nil {
			return b, fmt.Errorf("%w: %s without a Bind body", ErrEncode, p.ID)
		}
		e.cstring("system_id", bd.SystemID, 16)
		e.cstring("password", bd.Password, 9)
		e.cstring("system_type", bd.SystemType, 13)
		e.byte(bd.InterfaceVersion)
		e.byte(bd.AddrTON)
		e.byte(bd.AddrNPI)
		e.cstring("address_range", bd.AddressRange, 41)
	case BindReceiverResp, BindTransmitterResp, BindTransceiverResp:
		if p.Status == StatusOK || p.SystemID != "" {
			e.cstring("system_id", p.SystemID, 16)
		}
	case SubmitSM, DeliverSM:
		if p.SM == nil {
			return b, fmt.Errorf("%w: %s without an SM body", ErrEncode, p.ID)
		}
		e.sm(p.SM)
	case SubmitSMResp, DeliverSMResp:
		// deliver_sm_resp's message_id is unused and always NULL; an error
		// submit_sm_resp carries no body.
		if p.ID == DeliverSMResp || p.Status == StatusOK || p.MessageID != "" {
			e.cstring("message_id", p.MessageID, 65)
		}
	case EnquireLink, EnquireLinkResp, Unbind, UnbindResp, GenericNack:
	default:
		return b, fmt.Errorf("%w: %s is not supported", ErrEncode, p.ID)
	}
	if e.err != nil {
		return b, e.err
	}
	binary.BigEndian.PutUint32(e.b[start:], uint32(len(e.b)-start))
	return e.b, nil
}

// Marshal returns the PDU's bytes.
func (p *PDU) Marshal() ([]byte, error) { return p.AppendTo(nil) }

func (e *encoder) sm(sm *SM) {
	e.cstring("service_type", sm.ServiceType, 6)
	e.byte(sm.Source.TON)
	e.byte(sm.Source.NPI)
	e.cstring("source_addr", sm.Source.Addr, 21)
	e.byte(sm.Dest.TON)
	e.byte(sm.Dest.NPI)
	e.cstring("destination_addr", sm.Dest.Addr, 21)
	e.byte(sm.ESMClass)
	e.byte(sm.ProtocolID)
	e.byte(sm.PriorityFlag)
	e.time("schedule_delivery_time", sm.ScheduleDeliveryTime)
	e.time("validity_period", sm.ValidityPeriod)
	e.byte(sm.RegisteredDelivery)
	e.byte(sm.ReplaceIfPresent)
	e.byte(sm.DataCoding)
	e.byte(sm.SMDefaultMsgID)
	if e.err == nil && len(sm.ShortMessage) > 254 {
		e.err = fmt.Errorf("%w: short_message: %d octets is more than 254 (use message_payload)", ErrEncode,
			len(sm.ShortMessage))
		return
	}
	e.byte(byte(len(sm.ShortMessage)))
	e.b = append(e.b, sm.ShortMessage...)
	e.tlvs(sm.TLVs)
}
