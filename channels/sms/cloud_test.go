package sms

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/sms/smscloudtest"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

func aliyunSend(endpoint string) Sender {
	return Sender{Enabled: true, Endpoint: endpoint, SignName: "连心热线", KeyID: "LTAI-test", KeySecret: "aliyun-secret",
		Ack:           Template{ID: "SMS_100001", Params: []Param{{Name: "code", Value: "tracking_no"}}},
		Emergency:     Template{ID: "SMS_100002", Params: []Param{{Name: "tel", Value: "number"}}},
		Reply:         Template{ID: "SMS_100003", Params: []Param{{Name: "content", Value: "text"}, {Name: "no", Value: "tracking_no"}}},
		MaxParamRunes: 20}
}

func tencentSend(endpoint string) Sender {
	return Sender{Enabled: true, Endpoint: endpoint, SignName: "连心热线", SdkAppID: "1400000001", KeyID: "AKID-test",
		KeySecret: "tencent-secret", Ack: Template{ID: "200001", Params: []Param{{Value: "tracking_no"}}},
		Reply: Template{ID: "200003", Params: []Param{{Value: "tracking_no"}, {Value: "text"}}}, MaxParamRunes: 20}
}

// runGateway runs g until the test ends, with fast retries.
func runGateway(t *testing.T, g *Gateway) {
	g.backoff, g.poll = 10*time.Millisecond, 10*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
}

func nextSent(t *testing.T, ch <-chan smscloudtest.Sent) smscloudtest.Sent {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-wait(t).Done():
		t.Fatal("no SMS reached the provider")
	}
	return smscloudtest.Sent{}
}

// waitMessage waits for a conversation message that ok accepts.
func waitMessage(t *testing.T, q *queue.Queue, tn string, ok func(queue.Message) bool) queue.Message {
	t.Helper()
	ctx := wait(t)
	for {
		ms, err := q.Messages(ctx, tn)
		require.NoError(t, err)
		for _, m := range ms {
			if ok(m) {
				return m
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no such message on %s: %+v", tn, ms)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitTracked waits until g has filed the id of an SMS it sent (as it
// reads the provider's answer), so that a report the test pushes at once
// does not overtake it, as a real carrier's never does.
func waitTracked(t *testing.T, g *Gateway, provider, id string) {
	t.Helper()
	ctx := wait(t)
	for {
		switch tr := g.tracker.(type) {
		case *tracker:
			tr.mu.Lock()
			found, _ := tr.find(provider + ":" + id)
			tr.mu.Unlock()
			if found != nil {
				return
			}
		case *sharedTracker:
			if tr.rdb.Exists(ctx, tr.p("smsr:"+strings.ToLower(provider+":"+id))).Val() == 1 {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s id %s never filed", provider, id)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func countMessages(t *testing.T, q *queue.Queue, tn string, ok func(queue.Message) bool) int {
	ms, err := q.Messages(context.Background(), tn)
	require.NoError(t, err)
	n := 0
	for _, m := range ms {
		if ok(m) {
			n++
		}
	}
	return n
}

func isStatus(st string) func(queue.Message) bool {
	return func(m queue.Message) bool { return m.From == queue.FromSystem && m.Status == st }
}

// A citizen's SMS pushed by Aliyun, with no SMPP bind, is acknowledged
// through Aliyun's SendSms from the approved template (signature checked by
// the fake); Aliyun's delivery report marks it delivered once, however
// often Aliyun pushes it; the agent's reply goes out from the reply
// template, split where longer than the variable allows.
func TestAliyunAckReplyAndReport(t *testing.T) {
	q := newQueue(t, queuetest.RedisServer(t))
	fake := smscloudtest.StartAliyun(t, "LTAI-test", "aliyun-secret")
	g := newGateway(t, q, func(c *Config) { c.Aliyun.Send = aliyunSend(fake.URL()) })
	runGateway(t, g)

	code, out := post(mux(g), "/channels/sms/aliyun",
		[]byte(`[{"phone_number":"13800138000","send_time":"2026-11-30 10:00:00","content":"路灯坏了","dest_code":"","sequence_id":7001}]`), nil)
	require.Equal(t, http.StatusOK, code, out)
	ack := nextSent(t, fake.Sent)
	require.Equal(t, "13800138000", ack.Phone)
	require.Equal(t, "SMS_100001", ack.Template)
	tn := ack.Params["code"]
	require.NotEmpty(t, tn)
	require.Equal(t, tn, ack.Ref, "OutId names the contact")
	sent := waitMessage(t, q, tn, isStatus("sent"))
	require.Equal(t, ack.ID, sent.ID)
	require.Contains(t, sent.Text, tn)

	report := fmt.Sprintf(`[{"phone_number":"13800138000","send_time":"2026-11-30 10:00:01","report_time":"2026-11-30 10:00:05",
		"success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1","biz_id":%q,"out_id":%q}]`, ack.ID, tn)
	for range 3 { // Aliyun pushes again when unsure we heard it
		code, out = post(mux(g), "/channels/sms/aliyun/reports", []byte(report), nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, map[string]any{"code": float64(0), "msg": "接收成功"}, out)
	}
	waitMessage(t, q, tn, isStatus("delivered"))
	require.Equal(t, 1, countMessages(t, q, tn, isStatus("delivered")))

	c := contact(t, q, tn)
	reply := "您反映的路灯问题已转交市政部门，预计三个工作日内修复。感谢您的监督！"
	require.NoError(t, g.Reply(wait(t), c, reply))
	var got, ids []string
	for len(strings.Join(got, "")) < len(strings.ReplaceAll(reply, " ", "")) {
		s := nextSent(t, fake.Sent)
		require.Equal(t, "SMS_100003", s.Template)
		require.Equal(t, tn, s.Params["no"])
		require.LessOrEqual(t, utf8.RuneCountInString(s.Params["content"]), 20)
		got = append(got, s.Params["content"])
		ids = append(ids, s.ID)
	}
	require.Equal(t, reply, strings.Join(got, ""))
	require.Len(t, got, 2)
	// The two SMS of the reply are one reply: delivered once both are.
	for i, id := range ids {
		waitTracked(t, g, PathAliyun, id)
		code, out = post(mux(g), "/channels/sms/aliyun/reports", []byte(`{"success":true,"biz_id":"`+id+`"}`), nil)
		require.Equal(t, http.StatusOK, code, out)
		if i == 0 {
			require.Equal(t, 1, countMessages(t, q, tn, isStatus("delivered")), "half a reply is not delivered")
		}
	}
	require.Equal(t, 2, countMessages(t, q, tn, isStatus("delivered")))

	// Too long for five SMS: refused before anything is queued.
	err := g.Reply(wait(t), c, strings.Repeat("长", 101))
	require.ErrorIs(t, err, channels.ErrReplyRejected)
	require.Contains(t, err.Error(), "sms_reply_too_long")
	require.Contains(t, err.Error(), "请缩短")
	select {
	case s := <-fake.Sent:
		t.Fatalf("a refused reply reached the provider: %+v", s)
	case <-time.After(100 * time.Millisecond):
	}
	require.Zero(t, fake.Refused(), "every request was signed right")
}

// A citizen's SMS pushed by Tencent Cloud is acknowledged through
// Tencent's SendSms (TC3 signature checked by the fake); the status
// callback of a failure is shown with the carrier's code in Chinese.
func TestTencentAckAndFailedReport(t *testing.T) {
	q := newQueue(t, queuetest.RedisServer(t))
	fake := smscloudtest.StartTencent(t, "AKID-test", "tencent-secret", "1400000001")
	g := newGateway(t, q, func(c *Config) { c.Tencent.Send = tencentSend(fake.URL()) })
	runGateway(t, g)

	code, out := post(mux(g), "/channels/sms/tencent",
		[]byte(`{"extend":"","mobile":"13900139000","nationcode":"86","sign":"连心","text":"噪音扰民","time":1764468000}`), nil)
	require.Equal(t, http.StatusOK, code, out)
	ack := nextSent(t, fake.Sent)
	require.Equal(t, "+8613900139000", ack.Phone)
	require.Equal(t, "200001", ack.Template)
	tn := ack.Params["1"]
	require.NotEmpty(t, tn)
	waitMessage(t, q, tn, isStatus("sent"))

	waitTracked(t, g, PathTencent, ack.ID)
	report := fmt.Sprintf(`[{"user_receive_time":"2026-11-30 10:00:05","nationcode":"86","mobile":"13900139000",
		"report_status":"FAIL","errmsg":"MK:0001","description":"用户号码为空号","sid":%q}]`, ack.ID)
	code, out = post(mux(g), "/channels/sms/tencent/reports", []byte(report), nil)
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, map[string]any{"result": float64(0), "errmsg": "OK"}, out)
	m := waitMessage(t, q, tn, isStatus("failed"))
	require.Equal(t, "短信未送达（腾讯云短信错误 MK:0001：空号）", m.Text)

	// The reply goes out the same way.
	require.NoError(t, g.Reply(wait(t), contact(t, q, tn), "已转交城管处理"))
	s := nextSent(t, fake.Sent)
	require.Equal(t, map[string]string{"1": tn, "2": "已转交城管处理"}, s.Params)
	require.Zero(t, fake.Refused())
}

// A permanent error is not retried and is shown with the provider's code
// in Chinese; a temporary one (throttling, HTTP 503) is retried until the
// SMS goes out; a request the provider finds badly signed is refused (and
// shown) like any permanent error.
func TestCloudSendErrors(t *testing.T) {
	q := newQueue(t, queuetest.RedisServer(t))
	fake := smscloudtest.StartAliyun(t, "LTAI-test", "aliyun-secret")
	g := newGateway(t, q, func(c *Config) {
		c.Aliyun.Send = aliyunSend(fake.URL())
		c.Answer.Default = PathAliyun // the generic push has no path of its own
	})
	runGateway(t, g)
	push := func(id int) string {
		body := []byte(fmt.Sprintf(`{"id":"e%d","from":"1380013800%d","text":"咨询社保"}`, id, id))
		code, out := post(mux(g), "/channels/sms/generic", body, signed(g, body, time.Now()))
		require.Equal(t, http.StatusOK, code, out)
		return out["tracking_no"].(string)
	}

	fake.FailNext("isv.MOBILE_NUMBER_ILLEGAL")
	tn := push(1)
	m := waitMessage(t, q, tn, isStatus("failed"))
	require.Equal(t, "受理短信未发出（阿里云短信错误 isv.MOBILE_NUMBER_ILLEGAL：手机号码格式不正确）", m.Text)
	require.Equal(t, "aliyun:isv.MOBILE_NUMBER_ILLEGAL", m.ID)

	fake.FailNext("isv.BUSINESS_LIMIT_CONTROL", "HTTP503", "Throttling.User")
	tn = push(2)
	s := nextSent(t, fake.Sent)
	require.Equal(t, tn, s.Params["code"])
	waitMessage(t, q, tn, isStatus("sent"))
	require.Zero(t, countMessages(t, q, tn, isStatus("failed")))
	select {
	case s := <-fake.Sent:
		t.Fatalf("sent twice: %+v", s)
	case <-time.After(100 * time.Millisecond):
	}
	require.Zero(t, fake.Refused())
}

// A wrong AccessKey secret: the fake recomputes the signature, answers
// SignatureDoesNotMatch as Aliyun does, and the desk is told why.
func TestCloudBadSignature(t *testing.T) {
	q := newQueue(t, queuetest.RedisServer(t))
	fake := smscloudtest.StartAliyun(t, "LTAI-test", "aliyun-secret")
	tfake := smscloudtest.StartTencent(t, "AKID-test", "tencent-secret", "1400000001")
	rq := &recorder{Queue: q}
	g := newGateway(t, rq, func(c *Config) {
		c.Aliyun.Send = aliyunSend(fake.URL())
		c.Aliyun.Send.KeySecret = "wrong"
		c.Tencent.Send = tencentSend(tfake.URL())
		c.Tencent.Send.KeySecret = "wrong"
	})
	runGateway(t, g)
	code, out := post(mux(g), "/channels/sms/aliyun", []byte(`[{"phone_number":"13800138000","content":"你好","sequence_id":1}]`), nil)
	require.Equal(t, http.StatusOK, code, out)
	code, out = post(mux(g), "/channels/sms/tencent", []byte(`{"mobile":"13900139000","text":"你好","time":1764468000}`), nil)
	require.Equal(t, http.StatusOK, code, out)
	ctx := wait(t)
	for fake.Refused() < 1 || tfake.Refused() < 1 {
		select {
		case <-ctx.Done():
			t.Fatal("the fakes were never asked")
		case <-time.After(10 * time.Millisecond):
		}
	}
	// Both contacts got a failed event naming the code.
	seen := map[string]bool{}
	for !seen["SignatureDoesNotMatch"] || !seen["AuthFailure.SignatureFailure"] {
		for _, tn := range rq.tns() {
			ms, err := q.Messages(ctx, tn)
			require.NoError(t, err)
			for _, m := range ms {
				for _, c := range []string{"SignatureDoesNotMatch", "AuthFailure.SignatureFailure"} {
					if m.Status == "failed" && strings.Contains(m.Text, c) {
						seen[c] = true
						require.Contains(t, m.Text, "请求签名不匹配")
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("failures not shown: %v", seen)
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.Equal(t, 1, fake.Refused(), "not retried")
	require.Equal(t, 1, tfake.Refused(), "not retried")
}

// recorder is the queue, remembering the contacts it received.
type recorder struct {
	*queue.Queue
	mu  sync.Mutex
	got []string
}

func (r *recorder) Receive(ctx context.Context, in queue.Intake, idem string) (queue.Receipt, error) {
	rc, err := r.Queue.Receive(ctx, in, idem)
	if err == nil {
		r.mu.Lock()
		r.got = append(r.got, rc.TrackingNo)
		r.mu.Unlock()
	}
	return rc, err
}

func (r *recorder) tns() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}
