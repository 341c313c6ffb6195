package sms

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/sms/smpp"
	"github.com/lianxin/lianxin/channels/sms/smpp/smsctest"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// bound runs a gateway bound to a test SMSC and returns the SMSC's side of
// the session. The gateway stops when the test ends.
func bound(t *testing.T, q Receiver, edit func(*Config)) (*Gateway, *smsctest.Server, *smsctest.Session) {
	t.Helper()
	smsc := smsctest.Start(t, smsctest.Options{SystemID: "lianxin", Password: "pw", Receipts: true})
	g := newGateway(t, q, func(c *Config) {
		c.SMPP = SMPP{Enabled: true, Addr: smsc.Addr, SystemID: "lianxin", Password: "pw",
			RebindMin: 20 * time.Millisecond, RebindMax: 200 * time.Millisecond, PartTimeout: 300 * time.Millisecond}
		if edit != nil {
			edit(c)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	ss, err := smsc.Session(wait(t))
	require.NoError(t, err)
	return g, smsc, ss
}

// wait is a generous bound for waits in tests (never an assertion on speed).
func wait(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mo(from string, dc byte, ud []byte) *smpp.SM {
	return &smpp.SM{Source: smpp.Address{TON: 1, NPI: 1, Addr: from}, Dest: smpp.Address{Addr: "12345"},
		DataCoding: dc, ShortMessage: ud}
}

var tnInAck = regexp.MustCompile(`受理编号 (\d+)`)

// ackTN reads the next acknowledgement the gateway submits and returns its
// tracking number.
func ackTN(t *testing.T, ss *smsctest.Session) string {
	t.Helper()
	select {
	case p := <-ss.Submits:
		text, err := smpp.Decode(p.SM.DataCoding, smpp.AlphabetGSM7, p.SM.ShortMessage)
		require.NoError(t, err)
		m := tnInAck.FindStringSubmatch(text)
		require.NotNil(t, m, text)
		return m[1]
	case <-wait(t).Done():
		t.Fatal("no acknowledgement")
	}
	return ""
}

func deliverOK(t *testing.T, ss *smsctest.Session, sm *smpp.SM) {
	t.Helper()
	st, err := ss.Deliver(wait(t), sm)
	require.NoError(t, err)
	require.Equal(t, smpp.StatusOK, st)
}

func TestSMPPDeliverAlphabets(t *testing.T) {
	q := newQueue(t, queuetest.RedisServer(t))
	_, _, ss := bound(t, q, nil)
	require.Equal(t, smpp.BindTransceiver, ss.Bind.ID)
	gbk, _ := smpp.EncodeGBK("噪音扰民，请处理")
	cases := []struct {
		name string
		from string
		dc   byte
		ud   []byte
		want string
	}{
		{"gsm7", "8613800138001", 0x00, []byte{0x48, 0x69, 0x20, 0x1B, 0x65, 0x35, 0x00}, "Hi €5@"},
		{"ascii", "8613800138002", 0x01, []byte("Street lamp out"), "Street lamp out"},
		{"latin1", "8613800138003", 0x03, []byte{'c', 'a', 'f', 0xE9}, "café"},
		{"ucs2", "8613800138004", 0x08, smpp.EncodeUCS2("路灯坏了😀"), "路灯坏了😀"},
		{"gbk", "8613800138005", 0x0F, gbk, "噪音扰民，请处理"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			deliverOK(t, ss, mo(c.from, c.dc, c.ud))
			k := contact(t, q, ackTN(t, ss))
			require.Equal(t, c.want, k.Text)
			require.Equal(t, "+"+c.from, k.Citizen.Phone)
			require.Equal(t, queue.ChannelSMS, k.Channel)
		})
	}
}

func TestSMPPLongMessages(t *testing.T) {
	q := newQueue(t, queuetest.RedisServer(t))
	_, _, ss := bound(t, q, nil)
	// An emoji's surrogate pair split across parts 1 and 2, a GBK pair
	// split across parts 2 and 3: joined as bytes, they decode whole.
	ucs := smpp.EncodeUCS2("第一段😀第二段")
	gbk, _ := smpp.EncodeGBK("共享单车乱停放")
	udh8 := func(ref byte, n, i int, b []byte) []byte { return append(smpp.UDH8(ref, n, i), b...) }
	udh16 := func(ref uint16, n, i int, b []byte) []byte { return append(smpp.UDH16(ref, n, i), b...) }
	sar := func(sm *smpp.SM, ref uint16, n, i int) *smpp.SM {
		sm.TLVs = []smpp.TLV{{Tag: smpp.TagSarMsgRefNum, Value: []byte{byte(ref >> 8), byte(ref)}},
			{Tag: smpp.TagSarTotalSegments, Value: []byte{byte(n)}}, {Tag: smpp.TagSarSegmentSeqnum, Value: []byte{byte(i)}}}
		return sm
	}
	udhi := func(sm *smpp.SM) *smpp.SM { sm.ESMClass |= smpp.ESMUDHI; return sm }

	t.Run("udh8 out of order, emoji split", func(t *testing.T) {
		from := "8613900000001"
		parts := [][]byte{ucs[:8], ucs[8:14], ucs[14:]} // ucs[6:10] is the pair
		ch3, _ := ss.Send(&smpp.PDU{ID: smpp.DeliverSM, SM: udhi(mo(from, 8, udh8(7, 3, 3, parts[2])))})
		ch1, _ := ss.Send(&smpp.PDU{ID: smpp.DeliverSM, SM: udhi(mo(from, 8, udh8(7, 3, 1, parts[0])))})
		// Another citizen's long message with the same reference does not mix in.
		other, _ := ss.Send(&smpp.PDU{ID: smpp.DeliverSM, SM: udhi(mo("8613900000009", 8, udh8(7, 3, 2, []byte{0, 'X'})))})
		deliverOK(t, ss, udhi(mo(from, 8, udh8(7, 3, 2, parts[1]))))
		for _, ch := range []<-chan *smpp.PDU{ch3, ch1} {
			st, err := ss.Wait(wait(t), ch)
			require.NoError(t, err)
			require.Equal(t, smpp.StatusOK, st, "each part is answered once the whole message is stored")
		}
		require.Equal(t, "第一段😀第二段", contact(t, q, ackTN(t, ss)).Text)
		st, err := ss.Wait(wait(t), other) // given up on at its deadline, delivered incomplete
		require.NoError(t, err)
		require.Equal(t, smpp.StatusOK, st)
		k := contact(t, q, ackTN(t, ss))
		require.Equal(t, "X\n（长短信不完整：共 3 段，未收到第 1、3 段）", k.Text)
	})
	t.Run("udh16, gbk pair split", func(t *testing.T) {
		from := "8613900000002"
		ch, _ := ss.Send(&smpp.PDU{ID: smpp.DeliverSM, SM: udhi(mo(from, 0x0F, udh16(0xBEEF, 2, 2, gbk[5:])))})
		deliverOK(t, ss, udhi(mo(from, 0x0F, udh16(0xBEEF, 2, 1, gbk[:5]))))
		st, _ := ss.Wait(wait(t), ch)
		require.Equal(t, smpp.StatusOK, st)
		require.Equal(t, "共享单车乱停放", contact(t, q, ackTN(t, ss)).Text)
	})
	t.Run("sar", func(t *testing.T) {
		from := "8613900000003"
		ch, _ := ss.Send(&smpp.PDU{ID: smpp.DeliverSM, SM: sar(mo(from, 1, []byte("Part one, ")), 300, 2, 1)})
		deliverOK(t, ss, sar(mo(from, 1, []byte("part two.")), 300, 2, 2))
		st, _ := ss.Wait(wait(t), ch)
		require.Equal(t, smpp.StatusOK, st)
		require.Equal(t, "Part one, part two.", contact(t, q, ackTN(t, ss)).Text)
	})
	t.Run("message_payload", func(t *testing.T) {
		sm := mo("8613900000004", 8, nil)
		sm.TLVs = []smpp.TLV{{Tag: smpp.TagMessagePayload, Value: smpp.EncodeUCS2("长文本通过message_payload送达")}}
		deliverOK(t, ss, sm)
		require.Equal(t, "长文本通过message_payload送达", contact(t, q, ackTN(t, ss)).Text)
	})
}
