package smpp

import "fmt"

// CommandID is a PDU's command_id.
type CommandID uint32

// The command ids an ESME receiver or transceiver meets (SMPP 3.4, 5.1.2.1).
const (
	GenericNack         CommandID = 0x80000000
	BindReceiver        CommandID = 0x00000001
	BindReceiverResp    CommandID = 0x80000001
	BindTransmitter     CommandID = 0x00000002
	BindTransmitterResp CommandID = 0x80000002
	SubmitSM            CommandID = 0x00000004
	SubmitSMResp        CommandID = 0x80000004
	DeliverSM           CommandID = 0x00000005
	DeliverSMResp       CommandID = 0x80000005
	Unbind              CommandID = 0x00000006
	UnbindResp          CommandID = 0x80000006
	BindTransceiver     CommandID = 0x00000009
	BindTransceiverResp CommandID = 0x80000009
	Outbind             CommandID = 0x0000000B
	EnquireLink         CommandID = 0x00000015
	EnquireLinkResp     CommandID = 0x80000015
)

// IsResponse reports whether id is a response (bit 31 set).
func (id CommandID) IsResponse() bool { return id&0x80000000 != 0 }

// Resp is the response command id of a request.
func (id CommandID) Resp() CommandID { return id | 0x80000000 }

func (id CommandID) String() string {
	switch id {
	case GenericNack:
		return "generic_nack"
	case BindReceiver:
		return "bind_receiver"
	case BindReceiverResp:
		return "bind_receiver_resp"
	case BindTransmitter:
		return "bind_transmitter"
	case BindTransmitterResp:
		return "bind_transmitter_resp"
	case SubmitSM:
		return "submit_sm"
	case SubmitSMResp:
		return "submit_sm_resp"
	case DeliverSM:
		return "deliver_sm"
	case DeliverSMResp:
		return "deliver_sm_resp"
	case Unbind:
		return "unbind"
	case UnbindResp:
		return "unbind_resp"
	case BindTransceiver:
		return "bind_transceiver"
	case BindTransceiverResp:
		return "bind_transceiver_resp"
	case Outbind:
		return "outbind"
	case EnquireLink:
		return "enquire_link"
	case EnquireLinkResp:
		return "enquire_link_resp"
	}
	return fmt.Sprintf("command_id 0x%08X", uint32(id))
}

// Status is a PDU's command_status (SMPP 3.4, 5.1.3).
type Status uint32

// The statuses this package sends or acts on.
const (
	StatusOK         Status = 0x00000000 // ESME_ROK
	StatusInvMsgLen  Status = 0x00000001 // ESME_RINVMSGLEN
	StatusInvCmdLen  Status = 0x00000002 // ESME_RINVCMDLEN
	StatusInvCmdID   Status = 0x00000003 // ESME_RINVCMDID
	StatusInvBndSts  Status = 0x00000004 // ESME_RINVBNDSTS: wrong bind state
	StatusAlyBnd     Status = 0x00000005 // ESME_RALYBND
	StatusSysErr     Status = 0x00000008 // ESME_RSYSERR
	StatusInvSrcAdr  Status = 0x0000000A // ESME_RINVSRCADR
	StatusInvDstAdr  Status = 0x0000000B // ESME_RINVDSTADR
	StatusBindFail   Status = 0x0000000D // ESME_RBINDFAIL
	StatusInvPaswd   Status = 0x0000000E // ESME_RINVPASWD
	StatusInvSysID   Status = 0x0000000F // ESME_RINVSYSID
	StatusMsgQFul    Status = 0x00000014 // ESME_RMSGQFUL
	StatusThrottled  Status = 0x00000058 // ESME_RTHROTTLED
	StatusInvDCS     Status = 0x00000104 // ESME_RINVDCS (SMPP 5.0 value, widely used)
	StatusRxTAppn    Status = 0x00000064 // ESME_RX_T_APPN: temporary, the SMSC retries
	StatusRxPAppn    Status = 0x00000065 // ESME_RX_P_APPN: permanent, the SMSC gives up
	StatusRxRAppn    Status = 0x00000066 // ESME_RX_R_APPN: rejected
	StatusInvOptPar  Status = 0x000000C3 // ESME_RINVOPTPARSTREAM
	StatusInvParLen  Status = 0x000000C2 // ESME_RINVPARLEN
	StatusUnknownErr Status = 0x000000FF // ESME_RUNKNOWNERR
)

// Temporary reports whether a submit_sm_resp status means "try again later"
// rather than "never" (queue full, throttled, system error, temporary).
func (s Status) Temporary() bool {
	switch s {
	case StatusMsgQFul, StatusThrottled, StatusSysErr, StatusRxTAppn, StatusUnknownErr:
		return true
	}
	return false
}

func (s Status) String() string {
	names := map[Status]string{StatusOK: "ESME_ROK", StatusInvMsgLen: "ESME_RINVMSGLEN",
		StatusInvCmdLen: "ESME_RINVCMDLEN", StatusInvCmdID: "ESME_RINVCMDID", StatusInvBndSts: "ESME_RINVBNDSTS",
		StatusAlyBnd: "ESME_RALYBND", StatusSysErr: "ESME_RSYSERR", StatusInvSrcAdr: "ESME_RINVSRCADR",
		StatusInvDstAdr: "ESME_RINVDSTADR", StatusBindFail: "ESME_RBINDFAIL", StatusInvPaswd: "ESME_RINVPASWD",
		StatusInvSysID: "ESME_RINVSYSID", StatusMsgQFul: "ESME_RMSGQFUL", StatusThrottled: "ESME_RTHROTTLED",
		StatusInvDCS: "ESME_RINVDCS", StatusRxTAppn: "ESME_RX_T_APPN", StatusRxPAppn: "ESME_RX_P_APPN",
		StatusRxRAppn: "ESME_RX_R_APPN", StatusInvOptPar: "ESME_RINVOPTPARSTREAM", StatusInvParLen: "ESME_RINVPARLEN",
		StatusUnknownErr: "ESME_RUNKNOWNERR"}
	if n, ok := names[s]; ok {
		return n
	}
	return fmt.Sprintf("command_status 0x%08X", uint32(s))
}
