package sms

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/sms/smpp"
	"github.com/lianxin/lianxin/channels/sms/smpp/smsctest"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// Two nodes, each with its own bind: node A acknowledges a citizen's SMS, and
// the SMS centre sends the delivery receipt over node B's bind. With shared
// receipts B finds the contact and marks the acknowledgement delivered.
func TestReceiptOverAnotherNodesBind(t *testing.T) {
	s := queuetest.RedisServer(t)
	q := newQueue(t, s)
	rdb := s.Client(t)
	node := func(name string) (*Gateway, *smsctest.Session) {
		smsc := smsctest.Start(t, smsctest.Options{SystemID: "lianxin", Password: "pw"})
		c := Config{SMPP: SMPP{Enabled: true, Addr: smsc.Addr, SystemID: "lianxin", Password: "pw"}}
		g, err := New(c, zaptest.NewLogger(t).Named(name), q, WithOutbox(q.Outbox("sms-notices")),
			WithSharedReceipts(rdb, "{lianxin}:"))
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx) }()
		t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
		ss, err := smsc.Session(wait(t))
		require.NoError(t, err)
		return g, ss
	}
	_, ssA := node("a")
	_, ssB := node("b")

	deliverOK(t, ssA, mo("8613800138000", 8, smpp.EncodeUCS2("请问社保卡怎么补办")))
	tn := ackTN(t, ssA) // node A's first submit: message id "a001"
	ctx := wait(t)
	// A real SMS centre sends the receipt after its submit_sm_resp, which
	// node A files as it reads it; the test SMSC hands us the submit_sm
	// before that, so wait for the filing.
	for rdb.Exists(ctx, "{lianxin}:smsr:a001").Val() == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("node A never filed the acknowledgement's message id")
		case <-time.After(5 * time.Millisecond):
		}
	}
	rcpt := &smpp.SM{Source: smpp.Address{Addr: "8613800138000"}, Dest: smpp.Address{Addr: "12345"},
		ESMClass: smpp.ESMReceipt, ShortMessage: fmt.Appendf(nil,
			"id:%d sub:001 dlvrd:001 submit date:2611260900 done date:2611260901 stat:DELIVRD err:000 text:", 0xA001)}
	deliverOK(t, ssB, rcpt)

	for {
		msgs, err := q.Messages(ctx, tn)
		require.NoError(t, err)
		for _, m := range msgs {
			if m.From == queue.FromSystem && m.Status == "delivered" {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the receipt over node B's bind did not mark the acknowledgement delivered: %+v", msgs)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
