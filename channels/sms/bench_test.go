package sms

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/sms/smpp"
	"github.com/lianxin/lianxin/channels/sms/smpp/smsctest"
	"github.com/lianxin/lianxin/queue/queuetest"
)

// BenchmarkSMPPDeliver: deliver_sm from a test SMSC over TCP (64 in
// flight, as an SMSC's window), each stored in a real redis-server before
// its deliver_sm_resp; 10,000 citizens, so most messages join a contact.
func BenchmarkSMPPDeliver(b *testing.B) {
	q := newQueue(b, queuetest.RedisServer(b))
	smsc := smsctest.Start(b, smsctest.Options{SystemID: "lianxin", Password: "pw"})
	g := newGateway(b, q, func(c *Config) {
		c.NoAck = true
		c.SMPP = SMPP{Enabled: true, Addr: smsc.Addr, SystemID: "lianxin", Password: "pw"}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer wcancel()
	ss, err := smsc.Session(wctx)
	if err != nil {
		b.Fatal(err)
	}
	inflight := make(chan (<-chan *smpp.PDU), 64)
	errs := make(chan error, 1)
	go func() {
		for ch := range inflight {
			st, err := ss.Wait(wctx, ch)
			if err == nil && st != smpp.StatusOK {
				err = fmt.Errorf("status %s", st)
			}
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		}
		close(errs)
	}()
	b.ResetTimer()
	for i := range b.N {
		sm := mo(fmt.Sprintf("86138%08d", i%10000), 8, smpp.EncodeUCS2(fmt.Sprintf("第%d条：路灯坏了", i)))
		ch, err := ss.Send(&smpp.PDU{ID: smpp.DeliverSM, SM: sm})
		if err != nil {
			b.Fatal(err)
		}
		inflight <- ch
	}
	close(inflight)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliver_sm/s")
}

func benchPush(b *testing.B, path string, body func(i int64) []byte, hdr func(g *Gateway, body []byte) map[string]string) {
	q := newQueue(b, queuetest.RedisServer(b))
	g := newGateway(b, q, func(c *Config) { c.NoAck = true })
	srv := httptest.NewServer(mux(g))
	defer srv.Close()
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bd := body(n.Add(1))
			req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(bd))
			for k, v := range hdr(g, bd) {
				req.Header.Set(k, v)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_ = res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "push/s")
}

// BenchmarkAliyunPush: one-item Aliyun pushes over HTTP into a real
// redis-server, 16 clients.
func BenchmarkAliyunPush(b *testing.B) {
	benchPush(b, "/channels/sms/aliyun", func(i int64) []byte {
		return fmt.Appendf(nil, `[{"phone_number":"138%08d","send_time":"2025-03-01 09:00:00","content":"第%d条","sign_name":"成都12345","dest_code":"","sequence_id":%d}]`, i%10000, i, i)
	}, func(*Gateway, []byte) map[string]string { return nil })
}

// BenchmarkGenericPush: signed generic pushes, the same way.
func BenchmarkGenericPush(b *testing.B) {
	benchPush(b, "/channels/sms/generic", func(i int64) []byte {
		return fmt.Appendf(nil, `{"id":"g%d","from":"138%08d","text":"第%d条"}`, i, i%10000, i)
	}, func(g *Gateway, body []byte) map[string]string { return signed(g, body, time.Now()) })
}
