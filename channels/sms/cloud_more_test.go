package sms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/channels/sms/smpp"
	"github.com/lianxin/lianxin/channels/sms/smscloudtest"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// Node A sends the acknowledgement through Aliyun; Aliyun pushes the
// delivery report to node B, which finds the contact in Redis.
func TestCloudReportOnAnotherNode(t *testing.T) {
	s := queuetest.RedisServer(t)
	q := newQueue(t, s)
	rdb := s.Client(t)
	fake := smscloudtest.StartAliyun(t, "LTAI-test", "aliyun-secret")
	node := func(name string) *Gateway {
		c := Config{}
		c.Aliyun.Enabled = true
		c.Aliyun.Send = aliyunSend(fake.URL())
		g, err := New(c, zaptest.NewLogger(t).Named(name), q, WithOutbox(q.Outbox("sms-notices")),
			WithSharedReceipts(rdb, "{lianxin}:"))
		require.NoError(t, err)
		return g
	}
	a, b := node("a"), node("b")
	runGateway(t, a)
	code, out := post(mux(a), "/channels/sms/aliyun", []byte(`[{"phone_number":"13800138000","content":"咨询","sequence_id":9}]`), nil)
	require.Equal(t, http.StatusOK, code, out)
	ack := nextSent(t, fake.Sent)
	tn := ack.Params["code"]
	waitMessage(t, q, tn, isStatus("sent"))

	report := fmt.Sprintf(`[{"success":true,"err_code":"DELIVERED","biz_id":%q}]`, ack.ID)
	code, out = post(mux(b), "/channels/sms/aliyun/reports", []byte(report), nil)
	require.Equal(t, http.StatusOK, code, out)
	waitMessage(t, q, tn, isStatus("delivered"))

	// Node B answers the reply on the provider the SMS came through, known
	// from Redis.
	require.NoError(t, b.Reply(wait(t), contact(t, q, tn), "已办理"))
	runGateway(t, b)
	s2 := nextSent(t, fake.Sent)
	require.Equal(t, "已办理", s2.Params["content"])
}

// Bad report pushes get a clear JSON error naming the field, in the
// provider's answer format, and change nothing.
func TestCloudReportRefusals(t *testing.T) {
	q := newQueue(t, queuetest.Miniredis(t))
	rq := &recorder{Queue: q}
	g := newGateway(t, rq, func(c *Config) {
		c.Aliyun.Send = aliyunSend("http://127.0.0.1:1")
		c.Tencent.Send = tencentSend("http://127.0.0.1:1")
		c.Tencent.Token = "tok"
		c.MaxBodyBytes = 2048
	})
	h := mux(g)
	// A tracked SMS, so that a half-filed push would show.
	tr := g.tracker.start("T1", 1, "")
	g.tracker.add(tr, "aliyun:111^0")
	cases := []struct {
		name, path, body string
		code             int
		want             string
	}{
		{"aliyun malformed", "/channels/sms/aliyun/reports", `[{"biz_id":`, 400, "malformed JSON"},
		{"aliyun empty", "/channels/sms/aliyun/reports", `[]`, 400, "no reports"},
		{"aliyun no biz_id", "/channels/sms/aliyun/reports", `[{"success":true,"biz_id":"111^0"},{"success":true}]`, 400, "[1].biz_id: missing"},
		{"aliyun no success", "/channels/sms/aliyun/reports", `[{"biz_id":"111^0"}]`, 400, "[0].success: missing"},
		{"aliyun success not bool", "/channels/sms/aliyun/reports", `[{"biz_id":"111^0","success":"yes"}]`, 400, "success: must be a bool"},
		{"aliyun long id", "/channels/sms/aliyun/reports", `[{"success":true,"biz_id":"` + strings.Repeat("9", 200) + `"}]`, 400, "longer than 128"},
		{"aliyun two values", "/channels/sms/aliyun/reports", `[{"success":true,"biz_id":"1"}] []`, 400, "one JSON array"},
		{"aliyun oversize", "/channels/sms/aliyun/reports", strings.Repeat(" ", 4096), 413, "larger than"},
		{"tencent no token", "/channels/sms/tencent/reports", `[{"sid":"1","report_status":"SUCCESS"}]`, 403, "token"},
		{"tencent bad status", "/channels/sms/tencent/reports?token=tok", `[{"sid":"1","report_status":"OK"}]`, 400, `[0].report_status: "OK" is not SUCCESS or FAIL`},
		{"tencent no sid", "/channels/sms/tencent/reports?token=tok", `{"report_status":"FAIL"}`, 400, "[0].sid: missing"},
		{"tencent not utf-8", "/channels/sms/tencent/reports?token=tok", "[{\"sid\":\"\xff\"}]", 400, "UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out := post(h, c.path, []byte(c.body), nil)
			require.Equal(t, c.code, code, out)
			msg, _ := out["msg"].(string)
			if strings.Contains(c.path, "tencent") {
				msg, _ = out["errmsg"].(string)
				require.Equal(t, 1.0, out["result"])
			} else {
				require.Equal(t, 1.0, out["code"])
			}
			require.Contains(t, msg, c.want)
		})
	}
	// An SMS we do not know (yet): the provider is asked to push again.
	code, out := post(h, "/channels/sms/aliyun/reports", []byte(`[{"success":true,"biz_id":"999^0"}]`), nil)
	require.Equal(t, http.StatusServiceUnavailable, code, out)
	require.Equal(t, -1.0, out["code"])
	st, ok, err := g.tracker.receipt(receiptOf("aliyun:111^0", ""))
	require.NoError(t, err)
	require.True(t, ok)
	require.Empty(t, st.status, "nothing was filed")
}

// Without a reply template, a desk reply on a cloud path is refused before
// anything is sent, with a reason the agent can read.
func TestCloudReplyWithoutTemplate(t *testing.T) {
	q := newQueue(t, queuetest.Miniredis(t))
	g := newGateway(t, q, func(c *Config) {
		c.Aliyun.Send = aliyunSend("http://127.0.0.1:1")
		c.Aliyun.Send.Reply = Template{}
	})
	c := &queue.Contact{TrackingNo: "T1", Intake: queue.Intake{Channel: queue.ChannelSMS,
		Citizen: queue.Citizen{Phone: "+8613800138000"}}}
	err := g.Reply(context.Background(), c, "您好")
	require.ErrorIs(t, err, channels.ErrReplyRejected)
	require.Contains(t, err.Error(), "sms_no_reply_template")
	c.Citizen.Phone = "not-a-number"
	require.ErrorIs(t, g.Reply(context.Background(), c, "您好"), channels.ErrNoReplyPath)
	c.Citizen.Phone = "+8613800138000"
	require.Contains(t, err.Error(), "阿里云短信没有配置自由回复模板")
	jobs, err := q.Outbox("sms-notices").Claim(context.Background(), 10, time.Minute)
	require.NoError(t, err)
	require.Empty(t, jobs)
}

func receiptOf(id, stat string) smpp.Receipt { return smpp.Receipt{ID: id, Stat: stat} }

// The answer rule: the provider an SMS came through, unless the rule says
// otherwise; the default for the rest.
func TestAnswerPath(t *testing.T) {
	c := DefaultConfig()
	c.Aliyun.Send.Enabled = true
	c.Tencent.Send.Enabled = true
	require.Equal(t, PathAliyun, c.answerPath(PathAliyun))
	require.Equal(t, PathTencent, c.answerPath(PathTencent))
	require.Equal(t, PathAliyun, c.answerPath("generic"), "the first that sends")
	require.Equal(t, PathAliyun, c.answerPath(""))
	c.Answer = Answer{Via: map[string]string{PathAliyun: PathTencent}, Default: PathTencent}
	require.Equal(t, PathTencent, c.answerPath(PathAliyun))
	require.Equal(t, PathTencent, c.answerPath("smpp"))
	c.SMPP.Enabled = true
	c.Answer = Answer{}
	require.Equal(t, PathSMPP, c.answerPath("smpp"))
	require.Equal(t, PathSMPP, c.answerPath("generic"))
	c = DefaultConfig()
	require.Empty(t, c.answerPath(PathAliyun), "nothing sends")
}

// Every bad field of the senders is named, all at once.
func TestSenderConfigErrors(t *testing.T) {
	c := Config{}
	c.Aliyun.Send = Sender{Enabled: true, Endpoint: "ftp://x", Ack: Template{ID: "SMS_1",
		Params: []Param{{Value: "tracking_no"}}}, Reply: Template{ID: "SMS_2", Params: []Param{{Name: "a", Value: "number"}}}}
	c.Tencent.Send = Sender{Enabled: true, SignName: "x", KeyID: "i", KeySecret: "s", MaxReplyParts: 99}
	c.Answer = Answer{Via: map[string]string{"wechat": PathAliyun, PathTencent: PathSMPP}, Default: "huawei"}
	c.defaults()
	err := c.Validate()
	require.ErrorIs(t, err, ErrConfig)
	for _, want := range []string{
		`sms.aliyun.send.endpoint: "ftp://x" is not an http(s) URL`,
		"sms.aliyun.send.sign_name: the approved signature is required",
		"sms.aliyun.send.key_id: missing (set LIANXIN_SMS_ALIYUN_ACCESS_KEY_ID)",
		"sms.aliyun.send.key_secret: missing (set LIANXIN_SMS_ALIYUN_ACCESS_KEY_SECRET)",
		"sms.aliyun.send.ack.params[0].name: Aliyun templates fill variables by name",
		`sms.aliyun.send.reply.params[0].value: "number" is not one of tracking_no, text`,
		"sms.aliyun.send.reply.params: the reply template needs exactly one param with value text",
		"sms.tencent.send.sdk_app_id: the SmsSdkAppId is required",
		"sms.tencent.send.ack.id: the acknowledgement template is required",
		"sms.tencent.send.max_reply_parts: must be 1 to 20",
		`sms.answer.via.wechat: "wechat" is not where an SMS comes from`,
		`sms.answer.via.tencent: "smpp" cannot send SMS`,
		`sms.answer.default: "huawei" cannot send SMS`,
	} {
		require.Contains(t, err.Error(), want)
	}
	c = Config{SMPP: SMPP{DedupeWindow: -time.Second}}
	c.defaults()
	require.ErrorContains(t, c.Validate(), "sms.smpp.dedupe_window: must not be negative")

	env := map[string]string{"LIANXIN_SMS_ALIYUN_ACCESS_KEY_ID": "id1", "LIANXIN_SMS_ALIYUN_ACCESS_KEY_SECRET": "s1",
		"LIANXIN_SMS_TENCENT_SECRET_ID": "id2", "LIANXIN_SMS_TENCENT_SECRET_KEY": "s2"}
	c.ApplyEnv(func(k string) string { return env[k] })
	require.Equal(t, []string{"id1", "s1", "id2", "s2"},
		[]string{c.Aliyun.Send.KeyID, c.Aliyun.Send.KeySecret, c.Tencent.Send.KeyID, c.Tencent.Send.KeySecret})
}

// The SMPP dedupe window is per bind, defaulting to sms.dedupe_window.
func TestSMPPDedupeWindowDefault(t *testing.T) {
	c := Config{DedupeWindow: 3 * time.Minute}
	c.defaults()
	require.Equal(t, 3*time.Minute, c.SMPP.DedupeWindow)
	c = Config{SMPP: SMPP{DedupeWindow: time.Minute}}
	c.defaults()
	require.Equal(t, time.Minute, c.SMPP.DedupeWindow)
	require.Equal(t, 10*time.Minute, c.DedupeWindow)
}

func TestSplitReply(t *testing.T) {
	require.Equal(t, []string{"您好，", "已处理。"}, splitReply("您好，已处理。", 4))
	require.Equal(t, []string{"abcd", "ef"}, splitReply("abcdef", 4))
	require.Nil(t, splitReply("   ", 4))
}

// FuzzSplitReply: pieces are non-empty, within the limit, and together are
// the text (less the spaces at the cuts).
func FuzzSplitReply(f *testing.F) {
	f.Add("您好，您反映的问题已转交相关部门处理。 谢谢！", 7)
	f.Add("abc def ghi", 1)
	f.Fuzz(func(t *testing.T, text string, max int) {
		if max < 1 || max > 1000 || !utf8.ValidString(text) {
			return
		}
		parts := splitReply(text, max)
		for _, p := range parts {
			require.NotEmpty(t, p)
			require.LessOrEqual(t, utf8.RuneCountInString(p), max)
		}
		strip := func(s string) string { return strings.Join(strings.Fields(s), "") }
		require.Equal(t, strip(text), strip(strings.Join(parts, "")))
	})
}

// FuzzCloudReports: a report push is either refused as a whole with a
// message, or read into reports that each name an id of bounded length
// and, when failed, a code.
func FuzzCloudReports(f *testing.F) {
	f.Add([]byte(`[{"phone_number":"13800138000","success":true,"err_code":"DELIVERED","biz_id":"12345^0","out_id":"T"}]`), true)
	f.Add([]byte(`{"success":false,"biz_id":12345}`), true)
	f.Add([]byte(`[{"report_status":"FAIL","errmsg":"MK:0001","sid":"2640:1"}]`), false)
	f.Add([]byte(`{"report_status":"SUCCESS","sid":"x"}`), false)
	f.Fuzz(func(t *testing.T, body []byte, aliyun bool) {
		parse := parseTencentReports
		if aliyun {
			parse = parseAliyunReports
		}
		reps, err := parse(body)
		if err != nil {
			var pe *pushError
			require.True(t, errors.As(err, &pe), "%v", err)
			require.Equal(t, http.StatusBadRequest, pe.status)
			require.NotEmpty(t, pe.msg)
			require.Nil(t, reps)
			return
		}
		require.NotEmpty(t, reps)
		for _, r := range reps {
			require.NotEmpty(t, r.id)
			require.LessOrEqual(t, len(r.id), maxReportID)
			require.Equal(t, r.id, strings.TrimSpace(r.id))
			if !r.delivered {
				require.NotEmpty(t, r.code)
			}
		}
	})
}

// FuzzSendAnswers: any answer from a provider is an id (success only on
// HTTP 200 with a non-empty id) or a SendError with a code; 5xx is always
// temporary.
func FuzzSendAnswers(f *testing.F) {
	f.Add(200, []byte(`{"Message":"OK","RequestId":"r","BizId":"900^0","Code":"OK"}`), true)
	f.Add(200, []byte(`{"Message":"x","RequestId":"r","Code":"isv.BUSINESS_LIMIT_CONTROL"}`), true)
	f.Add(503, []byte(`Service Unavailable`), true)
	f.Add(200, []byte(`{"Response":{"SendStatusSet":[{"SerialNo":"2640:1","Code":"Ok"}],"RequestId":"r"}}`), false)
	f.Add(200, []byte(`{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"m"},"RequestId":"r"}}`), false)
	f.Fuzz(func(t *testing.T, status int, body []byte, aliyun bool) {
		if status < 100 || status > 599 {
			return
		}
		parse := parseTencentSend
		if aliyun {
			parse = parseAliyunSend
		}
		id, err := parse(status, body)
		if err == nil {
			require.NotEmpty(t, id)
			if aliyun {
				require.Equal(t, http.StatusOK, status)
			}
			return
		}
		require.Empty(t, id)
		var se *SendError
		require.True(t, errors.As(err, &se))
		require.NotEmpty(t, se.Code)
		require.NotEmpty(t, se.Chinese())
		if status >= 500 {
			require.True(t, se.Temporary, "%d is temporary", status)
		}
	})
}

// An emergency SMS through Aliyun: the emergency template with the line to
// call goes out first, then the acknowledgement.
func TestCloudEmergencyAdvice(t *testing.T) {
	q := newQueue(t, queuetest.RedisServer(t))
	fake := smscloudtest.StartAliyun(t, "LTAI-test", "aliyun-secret")
	g := newGateway(t, q, func(c *Config) { c.Aliyun.Send = aliyunSend(fake.URL()) })
	runGateway(t, g)
	code, out := post(mux(g), "/channels/sms/aliyun", []byte(`[{"phone_number":"13800138000","content":"楼道里着火了","sequence_id":5}]`), nil)
	require.Equal(t, http.StatusOK, code, out)
	em := nextSent(t, fake.Sent)
	require.Equal(t, "SMS_100002", em.Template)
	require.Equal(t, map[string]string{"tel": "119"}, em.Params)
	ack := nextSent(t, fake.Sent)
	require.Equal(t, "SMS_100001", ack.Template)
	m := waitMessage(t, q, ack.Params["code"], isStatus("sent"))
	require.Equal(t, em.ID+","+ack.ID, m.ID)
	require.True(t, strings.HasPrefix(m.Text, channels.EmergencyAdvice(channels.EmergencyFire)), m.Text)
}

// With Redis down a delivery report is not lost: the provider is told to
// push it again, in its own words.
func TestCloudReportWhenRedisIsDown(t *testing.T) {
	s := queuetest.RedisServer(t)
	q := newQueue(t, s)
	rdb := s.Client(t)
	c := Config{}
	c.Aliyun.Send = aliyunSend("http://127.0.0.1:1")
	c.Tencent.Send = tencentSend("http://127.0.0.1:1")
	g, err := New(c, zaptest.NewLogger(t), q, WithSharedReceipts(rdb, "{lianxin}:"))
	require.NoError(t, err)
	s.Kill()
	code, out := post(mux(g), "/channels/sms/aliyun/reports", []byte(`[{"success":true,"biz_id":"1^0"}]`), nil)
	require.Equal(t, http.StatusServiceUnavailable, code, out)
	require.Equal(t, -1.0, out["code"])
	code, out = post(mux(g), "/channels/sms/tencent/reports", []byte(`[{"report_status":"SUCCESS","sid":"2640:1"}]`), nil)
	require.Equal(t, http.StatusServiceUnavailable, code, out)
	require.Equal(t, -1.0, out["result"])
}

func TestFailureText(t *testing.T) {
	n := notice{Reply: true}
	err := &SendError{Provider: PathTencent, Code: "LimitExceeded.PhoneNumberDailyLimit", Temporary: true}
	require.Equal(t, "回复短信未发出（腾讯云短信错误 LimitExceeded.PhoneNumberDailyLimit：对该号码当日发送过多，稍后重试；已重试 20 次，不再重试）",
		failureText(n, err, 20))
	require.True(t, temporary(err))
	require.True(t, temporary(fmt.Errorf("network: %w", context.DeadlineExceeded)))
	require.False(t, temporary(&SendError{Code: "isv.MOBILE_NUMBER_ILLEGAL"}))
	for code, want := range map[string]bool{"isv.BUSINESS_LIMIT_CONTROL": true, "Throttling.User": true,
		"isp.SYSTEM_ERROR": true, "isv.SMS_TEMPLATE_ILLEGAL": false, "SignatureDoesNotMatch": false, "isv.X": false} {
		require.Equal(t, want, aliyunTemporary(code), code)
	}
	for code, want := range map[string]bool{"LimitExceeded.PhoneNumberOneHourLimit": true, "InternalError.Timeout": true,
		"RequestLimitExceeded": true, "FailedOperation.ContainSensitiveWord": false, "AuthFailure.SignatureFailure": false} {
		require.Equal(t, want, tencentTemporary(code), code)
	}
	require.Equal(t, "未知错误码，请查阅服务商文档", explainCode(PathAliyun, "isv.NEW_CODE"))
	require.Equal(t, "空号", explainCode(PathAliyun, "mk:0001"))
}
