package sip

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/siptest"
)

// BenchmarkCallbacksThroughTrunk places the citizen's leg of callbacks
// through the outbound trunk against a sipp UAS (agent-phone.xml playing
// its tone): INVITE, 180, 200 with SDP, ACK, an RTP port and media leg,
// then BYE — calls placed per second, with as many at once as
// -test.cpu × the parallelism (8 per CPU). Run it bounded, e.g.
//
//	go test ./sip -run '^$' -bench CallbacksThroughTrunk -benchtime 2000x
func BenchmarkCallbacksThroughTrunk(b *testing.B) {
	siptest.RequireTools(b, "sipp")
	uas := siptest.Sipp(b, siptest.SippOptions{Scenario: "agent-phone.xml", AutoAnswer: true,
		Vars: map[string]string{"play": "0"}, Limit: 5000})
	s := benchServer(b, func(c *Config) { c.Trunk.Proxy = uas.Addr(); c.MaxCalls = 5000 })
	uri, err := s.trunkURI("+8613800138000")
	if err != nil {
		b.Fatal(err)
	}
	var failed atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := newCall(s, "bench-"+uuid.NewString(), Line{Number: "12345", Queue: "general"}, "+8613800138000")
			a, err := c.dial(uri, []media.Codec{media.PCMU, media.PCMA}, "citizen", 10*time.Second, true)
			if err != nil {
				failed.Add(1)
				continue
			}
			a.hangup()
			c.cancel(nil)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
	b.ReportMetric(float64(failed.Load()), "failed")
}

// benchServer is a gateway on its own redis-server, logging nothing.
func benchServer(b *testing.B, mod func(*Config)) *Server {
	b.Helper()
	rs := queuetest.RedisServer(b)
	cfg := Config{Addr: "127.0.0.1:0", AdvertiseIP: "127.0.0.1", RTPPorts: PortRange{Min: 40000, Max: 59999}}
	mod(&cfg)
	q, err := queue.New(rs.Client(b), queue.Options{NodeID: "bench", Queues: []queue.Def{{Name: "general"}}})
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Params{Config: cfg, Queue: q, Lines: func(string) (Line, bool) { return Line{}, false },
		Prompts: testPrompts(), Redis: rs.Client(b), Prefix: "{lianxin}:"})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = q.Run(ctx) }()
	srvDone := make(chan struct{})
	go func() { defer close(srvDone); _ = s.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done; <-srvDone })
	return s
}
