package sms

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/sms/smpp"
	"github.com/lianxin/lianxin/channels/sms/smpp/smsctest"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// TestSMPPRedisDown: with Redis gone, deliver_sm is answered with
// ESME_RX_T_APPN so the SMSC delivers it again; never ESME_ROK.
func TestSMPPRedisDown(t *testing.T) {
	s := queuetest.RedisServer(t)
	q := newQueue(t, s)
	_, _, ss := bound(t, q, nil)
	deliverOK(t, ss, mo("8613800138000", 1, []byte("before")))
	s.Kill()
	st, err := ss.Deliver(wait(t), mo("8613800138000", 1, []byte("after")))
	require.NoError(t, err)
	require.Equal(t, smpp.StatusRxTAppn, st)
}

func TestSMPPReplyAndReceipts(t *testing.T) {
	q := newQueue(t, queuetest.RedisServer(t))
	g, _, ss := bound(t, q, nil)
	deliverOK(t, ss, mo("8613800138000", 8, smpp.EncodeUCS2("请问垃圾分类怎么做")))
	tn := ackTN(t, ss)
	c := contact(t, q, tn)
	ctx := wait(t)

	long := strings.Repeat("您好，垃圾分为四类：可回收物、有害垃圾、厨余垃圾和其他垃圾。", 5)
	require.NoError(t, g.Reply(ctx, c, long))
	var parts [][]byte
	for range 3 {
		p := <-ss.Submits
		require.Equal(t, smpp.CodingUCS2, p.SM.DataCoding)
		require.Equal(t, smpp.Address{TON: 1, NPI: 1, Addr: "8613800138000"}, p.SM.Dest)
		require.Equal(t, "12345", p.SM.Source.Addr)
		require.NotZero(t, p.SM.ESMClass&smpp.ESMUDHI)
		cc, ud, err := smpp.SplitUDH(p.SM.ShortMessage)
		require.NoError(t, err)
		require.Equal(t, len(parts)+1, cc.Seq)
		require.Equal(t, 3, cc.Total)
		require.LessOrEqual(t, len(p.SM.ShortMessage), 140)
		parts = append(parts, ud)
	}
	got, err := smpp.DecodeUCS2(append(append(parts[0], parts[1]...), parts[2]...))
	require.NoError(t, err)
	require.Equal(t, long, got)

	// The SMSC's receipts (ids in decimal where submit_sm_resp gave hex) mark
	// the reply delivered once every part is.
	for {
		ms, err := q.Messages(ctx, tn)
		require.NoError(t, err)
		delivered := 0 // the acknowledgement's, and the three-part reply's
		for _, m := range ms {
			if m.Status == "delivered" && m.From == queue.FromSystem {
				delivered++
			}
		}
		if delivered == 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no delivered status: %+v", ms)
		case <-time.After(20 * time.Millisecond):
		}
	}

	require.NoError(t, g.Reply(ctx, c, "OK, thanks [ref 5]"))
	p := <-ss.Submits
	require.Equal(t, smpp.CodingDefault, p.SM.DataCoding, "GSM 7-bit when it fits")
	text, _ := smpp.DecodeGSM7(p.SM.ShortMessage)
	require.Equal(t, "OK, thanks [ref 5]", text)

	require.ErrorIs(t, g.Reply(ctx, &queue.Contact{}, "x"), channels.ErrNoReplyPath)
	// The desk asks before the agent writes: yes for c, no for a contact
	// without a number.
	require.NoError(t, g.CanReply(ctx, c))
	require.ErrorIs(t, g.CanReply(ctx, &queue.Contact{}), channels.ErrNoReplyPath)
	err = g.Reply(ctx, c, strings.Repeat("长", 70*9))
	require.ErrorIs(t, err, channels.ErrReplyRejected)
	require.Contains(t, err.Error(), "sms_reply_too_long")
	require.Contains(t, err.Error(), "请缩短")
}

func TestSMPPReplyRefused(t *testing.T) {
	q := newQueue(t, queuetest.Miniredis(t))
	smsc := smsctest.Start(t, smsctest.Options{SystemID: "lianxin", Password: "pw", SubmitStatus: smpp.StatusInvDstAdr})
	g := newGateway(t, q, func(c *Config) {
		c.SMPP = SMPP{Enabled: true, Addr: smsc.Addr, SystemID: "lianxin", Password: "pw"}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	_, err := smsc.Session(wait(t))
	require.NoError(t, err)
	c := &queue.Contact{TrackingNo: "1", Intake: queue.Intake{Citizen: queue.Citizen{Address: "+8613800138000"}}}
	for g.cur.Load() == nil {
		time.Sleep(time.Millisecond)
	}
	err = g.Reply(wait(t), c, "hello")
	require.ErrorIs(t, err, channels.ErrReplyRejected)
	require.ErrorContains(t, err, "ESME_RINVDSTADR")
}

func TestSMPPLink(t *testing.T) {
	q := newQueue(t, queuetest.Miniredis(t))
	g, smsc, ss := bound(t, q, func(c *Config) { c.SMPP.EnquireLink = 50 * time.Millisecond })
	ctx := wait(t)

	// enquire_link both ways.
	ch, err := ss.Send(&smpp.PDU{ID: smpp.EnquireLink})
	require.NoError(t, err)
	r := <-ch
	require.Equal(t, smpp.EnquireLinkResp, r.ID)

	// A PDU we do not take gets generic_nack; a malformed deliver_sm its
	// own error status; the link stays up.
	ch, _ = ss.Send(&smpp.PDU{ID: smpp.GenericNack + 0x77}) // not a request we know
	ch2, err := ss.Send(&smpp.PDU{ID: smpp.EnquireLink})
	require.NoError(t, err)
	<-ch2
	_ = ch
	bad := []byte{0, 0, 0, 20, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0x10, 0, 'a', 'b', 'c', 'd'} // no NULs
	require.NoError(t, ss.WriteRaw(bad))
	deliverOK(t, ss, mo("8613800138000", 1, []byte("still up")))

	// The SMSC drops the link: the gateway binds again.
	ss.Close()
	ss2, err := smsc.Session(ctx)
	require.NoError(t, err)
	deliverOK(t, ss2, mo("8613800138000", 1, []byte("again")))
	require.GreaterOrEqual(t, smsc.Binds(), 2)
	_ = g

	// The SMSC unbinds: the gateway answers and binds again.
	ch, err = ss2.Send(&smpp.PDU{ID: smpp.Unbind})
	require.NoError(t, err)
	r = <-ch
	require.Equal(t, smpp.UnbindResp, r.ID)
	ss3, err := smsc.Session(ctx)
	require.NoError(t, err)
	deliverOK(t, ss3, mo("8613800138000", 1, []byte("third")))
}

func TestSMPPBindRefusedAndReceiver(t *testing.T) {
	q := newQueue(t, queuetest.Miniredis(t))
	smsc := smsctest.Start(t, smsctest.Options{SystemID: "lianxin", Password: "right"})
	g := newGateway(t, q, func(c *Config) {
		c.SMPP = SMPP{Enabled: true, Addr: smsc.Addr, SystemID: "lianxin", Password: "wrong", Mode: "receiver",
			RebindMin: 10 * time.Millisecond, RebindMax: 40 * time.Millisecond}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	for smsc.Binds() < 3 { // refused, and tried again with backoff
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	require.NoError(t, <-done)
	c := &queue.Contact{Intake: queue.Intake{Citizen: queue.Citizen{Address: "+8613800138000"}}}
	// A receiver bind cannot carry replies: the agent is told there is no way out.
	require.ErrorIs(t, g.Reply(context.Background(), c, "x"), channels.ErrNoReplyPath)
	require.ErrorIs(t, g.CanReply(context.Background(), c), channels.ErrNoReplyPath, "the desk is told before the agent writes")
}
