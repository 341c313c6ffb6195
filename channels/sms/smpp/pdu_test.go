package smpp

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func samplePDUs() []*PDU {
	return []*PDU{
		{ID: BindTransceiver, Seq: 1, Bind: &Bind{SystemID: "lianxin", Password: "secret", SystemType: "12345",
			InterfaceVersion: 0x34, AddrTON: 1, AddrNPI: 1, AddressRange: "12345"}},
		{ID: BindTransceiverResp, Seq: 1, SystemID: "SMSC"},
		{ID: BindReceiverResp, Seq: 1, Status: StatusInvPaswd},
		{ID: DeliverSM, Seq: 7, SM: &SM{Source: Address{TON: 1, NPI: 1, Addr: "8613800138000"},
			Dest: Address{Addr: "12345"}, ESMClass: ESMUDHI, DataCoding: CodingUCS2,
			ShortMessage: append(UDH8(9, 2, 1), EncodeUCS2("路灯坏了")...),
			TLVs:         []TLV{{Tag: TagSarMsgRefNum, Value: []byte{0, 9}}}}},
		{ID: SubmitSM, Seq: 8, SM: &SM{Source: Address{Addr: "12345"}, Dest: Address{TON: 1, Addr: "8613800138000"},
			ValidityPeriod: "000001000000000R", RegisteredDelivery: 1, ShortMessage: []byte("hi")}},
		{ID: SubmitSMResp, Seq: 8, MessageID: "5f3a9c"},
		{ID: SubmitSMResp, Seq: 9, Status: StatusThrottled},
		{ID: DeliverSMResp, Seq: 7},
		{ID: DeliverSMResp, Seq: 7, Status: StatusRxTAppn},
		{ID: EnquireLink, Seq: 3}, {ID: EnquireLinkResp, Seq: 3}, {ID: Unbind, Seq: 4}, {ID: UnbindResp, Seq: 4},
		{ID: GenericNack, Seq: 5, Status: StatusInvCmdID},
	}
}

func TestPDURoundTrip(t *testing.T) {
	for _, p := range samplePDUs() {
		t.Run(p.ID.String(), func(t *testing.T) {
			b, err := p.Marshal()
			require.NoError(t, err)
			got, err := ReadFrame(bytes.NewReader(b), nil, MaxPDU)
			require.NoError(t, err)
			q, err := Unmarshal(got)
			require.NoError(t, err)
			require.Equal(t, p, q)
		})
	}
}

func TestPDUErrorsNameTheField(t *testing.T) {
	dsm, _ := (&PDU{ID: DeliverSM, Seq: 1, SM: &SM{ShortMessage: []byte("abc")}}).Marshal()
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"short header", []byte{0, 0, 0, 16}, "shorter than a header"},
		{"length mismatch", append(append([]byte{}, dsm...), 0), "command_length"},
		{"sm_length overruns", func() []byte {
			b := append([]byte{}, dsm...)
			b[len(b)-4] = 200 // sm_length
			return b
		}(), "short_message: 200 octets announced"},
		{"no NUL", func() []byte {
			b, _ := (&PDU{ID: BindReceiver, Bind: &Bind{SystemID: "x"}}).Marshal()
			return b[:17]
		}(), "command_length"},
		{"unknown command", []byte{0, 0, 0, 16, 0, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 1}, "not supported"},
		{"stray TLV", fixLen(append(append([]byte{}, dsm...), 2, 4)), "stray octets"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Unmarshal(c.b)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
		})
	}
	_, err := ReadFrame(bytes.NewReader([]byte{0, 0x10, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1}), nil, MaxPDU)
	require.True(t, errors.Is(err, ErrFrame), "%v", err)
	_, err = (&PDU{ID: SubmitSM, SM: &SM{Dest: Address{Addr: "0123456789012345678901"}}}).Marshal()
	require.ErrorContains(t, err, "destination_addr")
	_, err = (&PDU{ID: SubmitSM, SM: &SM{ShortMessage: make([]byte, 255)}}).Marshal()
	require.ErrorContains(t, err, "short_message")
}

func fixLen(b []byte) []byte {
	n := len(b)
	b[0], b[1], b[2], b[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return b
}

// FuzzUnmarshal: any bytes either fail with an error or decode into a PDU
// that encodes back to bytes that decode to the same PDU, within the frame
// they came in.
func FuzzUnmarshal(f *testing.F) {
	for _, p := range samplePDUs() {
		b, _ := p.Marshal()
		f.Add(b)
	}
	f.Add([]byte{0, 0, 0, 16, 0x80, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Unmarshal(b)
		if err != nil {
			return
		}
		if len(b) > MaxPDU && p.SM == nil {
			t.Fatalf("accepted %d bytes", len(b))
		}
		if p.SM != nil && len(p.SM.ShortMessage) > 254 {
			t.Fatalf("short_message of %d octets", len(p.SM.ShortMessage))
		}
		out, err := p.Marshal()
		if err != nil {
			t.Fatalf("decoded %+v but cannot encode it: %v", p, err)
		}
		// Only the deliver_sm_resp body may grow: by the NUL of an absent
		// message_id, which we always write.
		if len(out) > len(b)+1 || (len(out) > len(b) && p.ID != DeliverSMResp) {
			t.Fatalf("re-encoded to %d bytes from %d", len(out), len(b))
		}
		q, err := Unmarshal(out)
		if err != nil {
			t.Fatalf("re-encoded PDU does not decode: %v", err)
		}
		require.Equal(t, p, q)
		// The frame reader agrees with the decoder on lengths.
		fr, err := ReadFrame(bytes.NewReader(out), nil, MaxPDU)
		if err != nil || !bytes.Equal(fr, out) {
			t.Fatalf("ReadFrame: %v", err)
		}
	})
}
