package smpp

import (
	"encoding/binary"
	"fmt"
	"io"
)

// HeaderLen is the length of a PDU header.
const HeaderLen = 16

// MaxPDU is the largest PDU this package reads unless told otherwise: a
// 254-octet short message or a 64 KiB message_payload plus headers.
const MaxPDU = 70 * 1024

// PDU is one SMPP PDU. Which fields matter depends on ID: Bind for bind_*
// requests; SystemID for bind_*_resp; SM for submit_sm and deliver_sm;
// MessageID for submit_sm_resp and deliver_sm_resp; none for enquire_link,
// unbind, their responses and generic_nack.
type PDU struct {
	ID     CommandID
	Status Status
	Seq    uint32

	Bind      *Bind
	SystemID  string
	SM        *SM
	MessageID string
}

// Bind is the body of bind_receiver, bind_transmitter and bind_transceiver.
type Bind struct {
	SystemID         string // at most 15 characters
	Password         string // at most 8
	SystemType       string // at most 12
	InterfaceVersion byte   // 0x34 for SMPP 3.4
	AddrTON, AddrNPI byte
	AddressRange     string // at most 40
}

// Address is a TON, NPI and address triple.
type Address struct {
	TON, NPI byte
	Addr     string // at most 20 characters
}

// SM is the body of submit_sm and deliver_sm (the same layout).
type SM struct {
	ServiceType          string
	Source, Dest         Address
	ESMClass             byte
	ProtocolID           byte
	PriorityFlag         byte
	ScheduleDeliveryTime string
	ValidityPeriod       string
	RegisteredDelivery   byte
	ReplaceIfPresent     byte
	DataCoding           byte
	SMDefaultMsgID       byte
	ShortMessage         []byte // at most 254 octets
	TLVs                 []TLV
}

// ESM class bits (SMPP 3.4, 5.2.12).
const (
	ESMReceiptMask = 0x3C // message type bits
	ESMReceipt     = 0x04 // SMSC delivery receipt
	ESMUDHI        = 0x40 // short_message starts with a user data header
)

// IsReceipt reports whether a deliver_sm is a delivery receipt.
func (sm *SM) IsReceipt() bool { return sm.ESMClass&ESMReceiptMask == ESMReceipt }

// ReadFrame reads one PDU's bytes from r into buf (grown as needed) and
// returns them. A command_length below 16 or above max is ErrFrame: the
// caller answers generic_nack and closes the connection.
func ReadFrame(r io.Reader, buf []byte, max int) ([]byte, error) {
	if cap(buf) < HeaderLen {
		buf = make([]byte, 0, 512)
	}
	buf = buf[:HeaderLen]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(buf))
	if n < HeaderLen || n > max {
		return buf, fmt.Errorf("%w: command_length %d is outside %d–%d", ErrFrame, n, HeaderLen, max)
	}
	if cap(buf) < n {
		nb := make([]byte, n)
		copy(nb, buf)
		buf = nb
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf[HeaderLen:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// Header reads the command id, status and sequence number of a frame of at
// least HeaderLen bytes, for answering a PDU whose body cannot be decoded.
func Header(b []byte) (CommandID, Status, uint32) {
	if len(b) < HeaderLen {
		return 0, 0, 0
	}
	return CommandID(binary.BigEndian.Uint32(b[4:])), Status(binary.BigEndian.Uint32(b[8:])),
		binary.BigEndian.Uint32(b[12:])
}

// Unmarshal decodes one whole PDU (header and body).
func Unmarshal(b []byte) (*PDU, error) {
	if len(b) < HeaderLen {
		return nil, fmt.Errorf("%w: %d bytes is shorter than a header", ErrFrame, len(b))
	}
	if n := binary.BigEndian.Uint32(b); int(n) != len(b) {
		return nil, fmt.Errorf("%w: command_length %d but %d bytes", ErrFrame, n, len(b))
	}
	p := &PDU{}
	p.ID, p.Status, p.Seq = Header(b)
	d := decoder{b: b[HeaderLen:]}
	switch p.ID {
	case BindReceiver, BindTransmitter, BindTransceiver:
		bd := &Bind{}
		bd.SystemID = d.cstring("system_id", 16)
		bd.Password = d.cstring("password", 9)
		bd.SystemType = d.cstring("system_type", 13)
		bd.InterfaceVersion = d.byte("interface_version")
		bd.AddrTON = d.byte("addr_ton")
		bd.AddrNPI = d.byte("addr_npi")
		bd.AddressRange = d.cstring("address_range", 41)
		p.Bind = bd
	case BindReceiverResp, BindTransmitterResp, BindTransceiverResp:
		// An error response may carry no body at all (SMPP 3.4, 4.1.2).
		if len(d.b) > 0 || p.Status == StatusOK {
			p.SystemID = d.cstring("system_id", 16)
			d.tlvs() // sc_interface_version may follow; nothing we need
		}
	case SubmitSM, DeliverSM:
		p.SM = d.sm()
	case SubmitSMResp, DeliverSMResp:
		if len(d.b) > 0 || (p.ID == SubmitSMResp && p.Status == StatusOK) {
			p.MessageID = d.cstring("message_id", 65)
		}
	case EnquireLink, EnquireLinkResp, Unbind, UnbindResp, GenericNack:
	default:
		return p, fmt.Errorf("%w: %s is not supported", ErrBody, p.ID)
	}
	if d.err != nil {
		return p, d.err
	}
	if len(d.b) != 0 {
		return p, bodyErr(p.ID.String(), "%d bytes after the last field", len(d.b))
	}
	return p, nil
}

func (d *decoder) sm() *SM {
	sm := &SM{}
	sm.ServiceType = d.cstring("service_type", 6)
	sm.Source.TON = d.byte("source_addr_ton")
	sm.Source.NPI = d.byte("source_addr_npi")
	sm.Source.Addr = d.cstring("source_addr", 21)
	sm.Dest.TON = d.byte("dest_addr_ton")
	sm.Dest.NPI = d.byte("dest_addr_npi")
	sm.Dest.Addr = d.cstring("destination_addr", 21)
	sm.ESMClass = d.byte("esm_class")
	sm.ProtocolID = d.byte("protocol_id")
	sm.PriorityFlag = d.byte("priority_flag")
	sm.ScheduleDeliveryTime = d.time("schedule_delivery_time")
	sm.ValidityPeriod = d.time("validity_period")
	sm.RegisteredDelivery = d.byte("registered_delivery")
	sm.ReplaceIfPresent = d.byte("replace_if_present_flag")
	sm.DataCoding = d.byte("data_coding")
	sm.SMDefaultMsgID = d.byte("sm_default_msg_id")
	n := int(d.byte("sm_length"))
	if d.err == nil && n > 254 {
		d.err = bodyErr("sm_length", "%d is above 254", n)
	}
	sm.ShortMessage = d.bytes("short_message", n)
	sm.TLVs = d.tlvs()
	return sm
}
