package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/agentdesk/desktest"
	"github.com/lianxin/lianxin/channels/sms"
	"github.com/lianxin/lianxin/channels/sms/smscloudtest"
	"github.com/lianxin/lianxin/configs"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// deskMessage waits for a "message" push whose message has status st.
func deskMessage(t *testing.T, d *desktest.Client, st string) (tn string, text string) {
	t.Helper()
	for {
		m := next(t, d, "message")
		var body struct {
			From, Text, Status string
		}
		require.NoError(t, json.Unmarshal(m.Body, &body))
		if body.Status == st && body.From == "system" {
			return m.TrackingNo(), body.Text
		}
	}
}

// waitTracked waits until a node has filed the id of an SMS it sent (as it
// reads the provider's answer), so that a report the test pushes at once
// does not overtake it, as a real carrier's never does.
func waitTracked(t *testing.T, s *queuetest.Server, provider, id string) {
	t.Helper()
	rdb := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for rdb.Exists(ctx, "{lianxin}:smsr:"+strings.ToLower(provider+":"+id)).Val() == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("the node never filed %s id %s", provider, id)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func sent(t *testing.T, ch <-chan smscloudtest.Sent) smscloudtest.Sent {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(60 * time.Second):
		t.Fatal("nothing reached the SMS provider")
	}
	return smscloudtest.Sent{}
}

// A city with no SMPP bind: a citizen's SMS pushed by Aliyun gets the
// tracking number through Aliyun's SendSms (after a 503 that is retried),
// the agent's reply from the desk goes out the same way, Aliyun's delivery
// report marks it delivered on the desk, and a reply Aliyun refuses for good
// shows the desk its code and what it means.
func TestSMSThroughAliyunToTheDesk(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	fake := smscloudtest.StartAliyun(t, "LTAI-e2e", "aliyun-e2e-secret")
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) {
		c.SMS.Aliyun.Enabled = true
		c.SMS.Aliyun.Send = sms.Sender{Enabled: true, Endpoint: fake.URL(), SignName: "连心热线",
			KeyID: "LTAI-e2e", KeySecret: "aliyun-e2e-secret",
			Ack:           sms.Template{ID: "SMS_1", Params: []sms.Param{{Name: "code", Value: "tracking_no"}}},
			Reply:         sms.Template{ID: "SMS_3", Params: []sms.Param{{Name: "content", Value: "text"}}},
			MaxParamRunes: 70}
	})
	d := desk(t, n.base, "1001")
	send(t, d, "ready", nil)

	fake.FailNext("HTTP503")
	r := postJSON(t, n.base+"/channels/sms/aliyun", []map[string]any{{"phone_number": "13800138000",
		"send_time": "2026-11-30 10:00:00", "content": "小区停水三天了，请问什么时候恢复？", "sequence_id": 42}})
	require.Equal(t, http.StatusOK, r.Status, "%v", r.Body)
	require.Equal(t, 0.0, r.Body["code"])

	offer := next(t, d, "offer").Object()
	require.Equal(t, "sms", offer.Channel)
	ack := sent(t, fake.Sent)
	require.Equal(t, "13800138000", ack.Phone)
	require.Equal(t, offer.TrackingNo, ack.Params["code"], "the acknowledgement carries the tracking number")

	send(t, d, "accept", map[string]any{"contact": offer.TrackingNo})
	send(t, d, "reply", map[string]any{"contact": offer.TrackingNo, "text": "已联系自来水公司，预计今晚恢复。"})
	rep := sent(t, fake.Sent)
	require.Equal(t, "SMS_3", rep.Template)
	require.Equal(t, "已联系自来水公司，预计今晚恢复。", rep.Params["content"])

	waitTracked(t, s, "aliyun", rep.ID)
	report := fmt.Sprintf(`[{"phone_number":"13800138000","send_time":"2026-11-30 10:05:00","report_time":"2026-11-30 10:05:03","success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1","biz_id":%q,"out_id":%q}]`,
		rep.ID, offer.TrackingNo)
	for range 2 { // Aliyun pushes again when unsure: one status on the desk
		r = do(t, http.MethodPost, n.base+"/channels/sms/aliyun/reports", "application/json", []byte(report))
		require.Equal(t, http.StatusOK, r.Status, "%v", r.Body)
		require.Equal(t, "接收成功", r.Body["msg"])
	}
	tn, text := deskMessage(t, d, "delivered")
	require.Equal(t, offer.TrackingNo, tn)
	require.Equal(t, "短信已送达", text)

	fake.FailNext("isv.BLACK_KEY_CONTROL_LIMIT")
	send(t, d, "reply", map[string]any{"contact": offer.TrackingNo, "text": "第二条回复"})
	_, text = deskMessage(t, d, "failed")
	require.Equal(t, "回复短信未发出（阿里云短信错误 isv.BLACK_KEY_CONTROL_LIMIT：短信内容含有禁止发送的关键字）", text)

	// A reply too long for the template is refused at once, with the reason.
	ref, err := d.Send("reply", map[string]any{"contact": offer.TrackingNo, "text": strings.Repeat("长", 70*5+1)})
	require.NoError(t, err)
	for {
		m := next(t, d, "error", "ack")
		if m.Ref == ref {
			require.Equal(t, "error", m.Type)
			require.Equal(t, "reply_rejected", m.Code)
			require.Contains(t, m.Message, "请缩短")
			break
		}
	}
	require.Zero(t, fake.Refused(), "every request was signed as Aliyun checks")
}

// The same with Tencent Cloud: the reply callback's citizen is acknowledged
// and answered through Tencent's SendSms (TC3-signed), and the status
// callback marks the reply delivered on the desk.
func TestSMSThroughTencentToTheDesk(t *testing.T) {
	t.Parallel()
	s := queuetest.RedisServer(t)
	fake := smscloudtest.StartTencent(t, "AKID-e2e", "tencent-e2e-key", "1400123456")
	n := startNode(t, s.URL, "node-a", func(c *configs.Config) {
		c.SMS.Tencent.Enabled = true
		c.SMS.Tencent.Send = sms.Sender{Enabled: true, Endpoint: fake.URL(), SignName: "连心热线", SdkAppID: "1400123456",
			KeyID: "AKID-e2e", KeySecret: "tencent-e2e-key",
			Ack:           sms.Template{ID: "100001", Params: []sms.Param{{Value: "tracking_no"}}},
			Reply:         sms.Template{ID: "100003", Params: []sms.Param{{Value: "text"}}},
			MaxParamRunes: 30}
	})
	d := desk(t, n.base, "1001")
	send(t, d, "ready", nil)

	r := postJSON(t, n.base+"/channels/sms/tencent", map[string]any{"extend": "", "mobile": "13900139000",
		"nationcode": "86", "sign": "连心热线", "text": "楼下餐馆油烟太大", "time": time.Now().Unix()})
	require.Equal(t, http.StatusOK, r.Status, "%v", r.Body)
	offer := next(t, d, "offer").Object()
	ack := sent(t, fake.Sent)
	require.Equal(t, "+8613900139000", ack.Phone)
	require.Equal(t, offer.TrackingNo, ack.Params["1"])

	send(t, d, "accept", map[string]any{"contact": offer.TrackingNo})
	send(t, d, "reply", map[string]any{"contact": offer.TrackingNo, "text": "已通知环保部门上门检查。"})
	rep := sent(t, fake.Sent)
	require.Equal(t, "已通知环保部门上门检查。", rep.Params["1"])

	waitTracked(t, s, "tencent", rep.ID)
	report := fmt.Sprintf(`[{"user_receive_time":"2026-11-30 10:05:03","nationcode":"86","mobile":"13900139000","report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户短信送达成功","sid":%q}]`, rep.ID)
	r = do(t, http.MethodPost, n.base+"/channels/sms/tencent/reports", "application/json", []byte(report))
	require.Equal(t, http.StatusOK, r.Status, "%v", r.Body)
	require.Equal(t, map[string]any{"result": 0.0, "errmsg": "OK"}, r.Body)
	tn, _ := deskMessage(t, d, "delivered")
	require.Equal(t, offer.TrackingNo, tn)

	// A bad report is refused as a whole, in Tencent's words.
	r = do(t, http.MethodPost, n.base+"/channels/sms/tencent/reports", "application/json", []byte(`[{"sid":"x","report_status":"MAYBE"}]`))
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, 1.0, r.Body["result"])
	require.Contains(t, r.Body["errmsg"], "report_status")
	require.Zero(t, fake.Refused())
}
