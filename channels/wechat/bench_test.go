package wechat_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue/queuetest"
)

// BenchmarkWebhook posts safe-mode (AES) text messages over real HTTP to
// the channel on a real redis-server, from 1,000 citizens (so most
// messages join an open contact), 32 at a time, and reports messages per
// second and the latency percentiles WeChat would see.
//
//	go test ./channels/wechat -run '^$' -bench Webhook -benchtime 20000x
func BenchmarkWebhook(b *testing.B) {
	e := newEnv(b, queuetest.RedisServer(b))
	c := e.crypter(acctSafe)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	var seq atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(16) // 32 concurrent pushes on 2 cores
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		mine := make([]time.Duration, 0, 1024)
		for pb.Next() {
			n := seq.Add(1)
			msg := fmt.Sprintf("<xml><ToUserName><![CDATA[gh_3f8a2b9c1d4e]]></ToUserName><FromUserName><![CDATA[oBench%06d]]></FromUserName>"+
				"<CreateTime>1732600000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[小区路灯不亮了，请帮忙报修 %d]]></Content>"+
				"<MsgId>%d</MsgId></xml>", n%1000, n, 24850000000000000+n)
			ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), strconv.FormatInt(n, 10)
			enc := c.Encrypt([]byte(msg), [16]byte{byte(n)})
			q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "encrypt_type": {"aes"}, "msg_signature": {c.Sign(ts, nonce, enc)}}
			body := "<xml><ToUserName><![CDATA[gh_3f8a2b9c1d4e]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>"
			t0 := time.Now()
			resp, err := client.Post(e.srv.URL+"/channels/wechat/"+acctSafe+"?"+q.Encode(), "text/xml", bytes.NewBufferString(body))
			if err != nil {
				b.Error(err)
				return
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(t0))
			if resp.StatusCode != http.StatusOK || !bytes.Contains(out, []byte("<Encrypt>")) {
				b.Errorf("status %d: %s", resp.StatusCode, out)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
}
