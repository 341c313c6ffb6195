package smpp

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseReceipt(t *testing.T) {
	sm := &SM{ESMClass: ESMReceipt, ShortMessage: []byte("id:0123456789 sub:001 dlvrd:001 submit date:2503010900 " +
		"done date:2503010901 stat:DELIVRD err:000 Text:hello")}
	r, err := ParseReceipt(sm)
	require.NoError(t, err)
	require.Equal(t, Receipt{ID: "0123456789", Stat: "DELIVRD", Err: "000", SubmitDate: "2503010900",
		DoneDate: "2503010901"}, r)
	require.True(t, r.Delivered() && r.Final())

	sm = &SM{ESMClass: ESMReceipt, ShortMessage: []byte("id:1 stat:ENROUTE"), TLVs: []TLV{
		{Tag: TagReceiptedMessageID, Value: []byte("5f3a\x00")}, {Tag: TagMessageState, Value: []byte{5}}}}
	r, err = ParseReceipt(sm)
	require.NoError(t, err)
	require.Equal(t, "5f3a", r.ID)
	require.Equal(t, "UNDELIV", r.Stat)

	_, err = ParseReceipt(&SM{ShortMessage: []byte("stat:DELIVRD")})
	require.ErrorContains(t, err, "no message id")
	_, err = ParseReceipt(&SM{ShortMessage: []byte("id:9")})
	require.ErrorContains(t, err, "no state")
}

// FuzzReceipt: receipts either fail or carry an id and a state of printable
// text taken from the input.
func FuzzReceipt(f *testing.F) {
	f.Add([]byte("id:0123456789 sub:001 dlvrd:001 submit date:2503010900 done date:2503010901 stat:DELIVRD err:000"))
	f.Add([]byte("ID:ab STAT:undeliv"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 254 {
			b = b[:254]
		}
		r, err := ParseReceipt(&SM{ShortMessage: b})
		if err != nil {
			return
		}
		if r.ID == "" || r.Stat == "" || !printable(r.ID) || !printable(r.Stat) {
			t.Fatalf("receipt %+v", r)
		}
	})
}
