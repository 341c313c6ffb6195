package sms

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/sms/smpp"
	"github.com/lianxin/lianxin/channels/sms/smpp/smsctest"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// A citizen's SMS that arrives over HTTP while the SMPP link is down gets its
// acknowledgement once the link is up: the notice waits in the outbox.
func TestNoticeWaitsForTheLink(t *testing.T) {
	q := newQueue(t, queuetest.RedisServer(t))
	smsc := smsctest.Start(t, smsctest.Options{SystemID: "lianxin", Password: "pw"})
	g := newGateway(t, q, func(c *Config) {
		c.SMPP = SMPP{Enabled: true, Addr: smsc.Addr, SystemID: "lianxin", Password: "pw"}
	})
	body := []byte(`{"id":"w1","from":"13800138000","text":"路灯不亮"}`)
	code, out := post(mux(g), "/channels/sms/generic", body, signed(g, body, time.Now()))
	require.Equal(t, http.StatusOK, code, out)
	tn := out["tracking_no"].(string)

	// Only now does the gateway run and bind.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	ss, err := smsc.Session(wait(t))
	require.NoError(t, err)
	select {
	case p := <-ss.Submits:
		require.Equal(t, "8613800138000", p.SM.Dest.Addr)
		text, err := smpp.Decode(p.SM.DataCoding, smpp.AlphabetGSM7, p.SM.ShortMessage)
		require.NoError(t, err)
		require.Contains(t, text, tn)
	case <-wait(t).Done():
		t.Fatal("the acknowledgement never went out")
	}
}
