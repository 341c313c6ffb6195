package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

func mux(g *Gateway) *http.ServeMux {
	m := http.NewServeMux()
	g.Register(m)
	return m
}

func post(h http.Handler, path string, body []byte, hdr map[string]string) (int, map[string]any) {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var out map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

func signed(g *Gateway, body []byte, at time.Time) map[string]string {
	ts := strconv.FormatInt(at.Unix(), 10)
	return map[string]string{HeaderTimestamp: ts, HeaderSignature: Sign([]byte(g.c.Generic.Secret), ts, body)}
}

func TestAliyunPush(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		q := newQueue(t, s)
		g := newGateway(t, q, nil)
		h := mux(g)
		body := []byte(`[{"phone_number":"13800138000","send_time":"2025-03-01 09:00:00","content":"小区路灯坏了，请问找谁修？",
			"sign_name":"成都12345","dest_code":"","sequence_id":1234567},
			{"phone_number":"+86 139 0013 9000","send_time":"2025-03-01 09:00:05","content":"我要投诉工地夜间施工噪音",
			"sign_name":"成都12345","dest_code":"123456","sequence_id":"abc-42"}]`)
		code, out := post(h, "/channels/sms/aliyun", body, nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, map[string]any{"code": 0.0, "msg": "接收成功"}, out)

		// Aliyun retries the same push: nothing new is queued.
		code, _ = post(h, "/channels/sms/aliyun", body, nil)
		require.Equal(t, http.StatusOK, code)
		st, err := q.Stats(context.Background())
		require.NoError(t, err)
		waiting := map[string]int{}
		for _, x := range st {
			waiting[x.Name] = int(x.Waiting)
		}
		require.Equal(t, map[string]int{"general": 1, "enterprise": 1}, waiting)
	})
}

func TestTencentCallback(t *testing.T) {
	q := newQueue(t, queuetest.Miniredis(t))
	g := newGateway(t, q, nil)
	h := mux(g)
	body := []byte(`{"extend":"","mobile":"13800138000","nationcode":"86","sign":"成都12345","text":"请问社保卡怎么补办","time":1740790800}`)
	code, out := post(h, "/channels/sms/tencent", body, nil)
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, map[string]any{"result": 0.0, "errmsg": "OK"}, out)
	code, out = post(h, "/channels/sms/tencent", []byte(`{"mobile":"13800138000","text":"x","time":true}`), nil)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, out["errmsg"], "time")
}

func TestGenericPushConversation(t *testing.T) {
	q := newQueue(t, queuetest.Miniredis(t))
	g := newGateway(t, q, nil)
	h := mux(g)
	send := func(id, text string) map[string]any {
		body := []byte(`{"id":"` + id + `","from":"13800138000","to":"12345","text":"` + text + `"}`)
		code, out := post(h, "/channels/sms/generic", body, signed(g, body, time.Now()))
		require.Equal(t, http.StatusOK, code, out)
		return out
	}
	first := send("m1", "楼下餐馆油烟太大")
	second := send("m2", "补充：每天晚上十点以后")
	again := send("m2", "补充：每天晚上十点以后")
	tn := first["tracking_no"].(string)
	require.Equal(t, tn, second["tracking_no"])
	require.Equal(t, true, second["joined"], "the second SMS joins the open contact")
	require.Equal(t, true, again["duplicate"])
	c := contact(t, q, tn)
	require.Equal(t, queue.ChannelSMS, c.Channel)
	require.Equal(t, "+8613800138000", c.Citizen.Address)
	require.Equal(t, "+8613800138000", c.Citizen.Phone, "E.164 links SMS with calls and letters")
	require.Equal(t, 1, c.MessageCount)
}

func TestEmergencySMS(t *testing.T) {
	q := newQueue(t, queuetest.Miniredis(t))
	g := newGateway(t, q, nil)
	body := []byte(`{"id":"e1","from":"13800138000","text":"楼道里着火了，好多烟"}`)
	code, out := post(mux(g), "/channels/sms/generic", body, signed(g, body, time.Now()))
	require.Equal(t, http.StatusOK, code, out)
	c := contact(t, q, out["tracking_no"].(string))
	require.Equal(t, channels.EmergencyPriority, c.Priority)
	require.Equal(t, channels.EmergencyFire, c.Emergency, "the kind is kept for the desk")
	require.Equal(t, queue.RequestHelp, c.RequestType)
	// The advice waits in the outbox for the SMPP link.
	jobs, err := q.Outbox("sms-notices").Claim(context.Background(), 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, jobs, 1, "no advice for the citizen")
	var n notice
	require.NoError(t, json.Unmarshal(jobs[0].Payload, &n))
	require.True(t, strings.HasPrefix(n.Text, channels.EmergencyAdvice(channels.EmergencyFire)), n.Text)
	require.Contains(t, n.Text, c.TrackingNo)
}

func TestPushRefusals(t *testing.T) {
	q := newQueue(t, queuetest.Miniredis(t))
	g := newGateway(t, q, func(c *Config) { c.Aliyun.Token = "tok"; c.MaxBodyBytes = 2048 })
	h := mux(g)
	okBody := []byte(`{"id":"r1","from":"13800138000","text":"hi"}`)
	cases := []struct {
		name, path string
		body       []byte
		hdr        map[string]string
		code       int
		want       string
	}{
		{"aliyun no token", "/channels/sms/aliyun", []byte(`[]`), nil, 403, "token"},
		{"aliyun bad json", "/channels/sms/aliyun?token=tok", []byte(`[{"phone_number":`), nil, 400, "malformed"},
		{"aliyun bad seq id", "/channels/sms/aliyun?token=tok", []byte(`[{"phone_number":"13800138000","sequence_id":1.5}]`), nil, 400, "sequence_id"},
		{"aliyun bad phone", "/channels/sms/aliyun?token=tok", []byte(`[{"phone_number":"13800138000"},{"phone_number":"abc"}]`), nil, 400, "[1].phone_number"},
		{"aliyun bad time", "/channels/sms/aliyun?token=tok", []byte(`[{"phone_number":"13800138000","send_time":"yesterday"}]`), nil, 400, "[0].send_time"},
		{"oversize", "/channels/sms/aliyun?token=tok", bytes.Repeat([]byte(" "), 4096), nil, 413, "larger than"},
		{"not utf-8", "/channels/sms/tencent", []byte("{\"text\":\"\xff\"}"), nil, 400, "UTF-8"},
		{"generic unsigned", "/channels/sms/generic", okBody, nil, 401, HeaderTimestamp},
		{"generic bad signature", "/channels/sms/generic", okBody, map[string]string{HeaderTimestamp: strconv.FormatInt(time.Now().Unix(), 10), HeaderSignature: "sha256=00"}, 401, HeaderSignature},
		{"generic replayed", "/channels/sms/generic", okBody, signed(g, okBody, time.Now().Add(-time.Hour)), 401, "more than 5m0s"},
		{"generic unknown field", "/channels/sms/generic", []byte(`{"id":"1","from":"13800138000","text":"a","x":1}`), nil, 400, "x: unknown field"},
		{"unknown provider", "/channels/sms/huawei", okBody, nil, 404, "huawei"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := c.hdr
			if hdr == nil && strings.HasSuffix(c.path, "generic") && c.code == 400 {
				hdr = signed(g, c.body, time.Now())
			}
			code, out := post(h, c.path, c.body, hdr)
			require.Equal(t, c.code, code, out)
			b, _ := json.Marshal(out)
			require.Contains(t, string(b), c.want)
		})
	}
}

// TestPushWhenRedisIsDown: a provider is told to retry (HTTP 503, a
// non-zero code), never acknowledged.
func TestPushWhenRedisIsDown(t *testing.T) {
	s := queuetest.RedisServer(t)
	q := newQueue(t, s)
	g := newGateway(t, q, nil)
	h := mux(g)
	s.Kill()
	code, out := post(h, "/channels/sms/aliyun", []byte(`[{"phone_number":"13800138000","content":"a","sequence_id":1}]`), nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, -1.0, out["code"])
	code, out = post(h, "/channels/sms/tencent", []byte(`{"mobile":"13800138000","text":"a","time":1}`), nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, -1.0, out["result"])
	body := []byte(`{"id":"d1","from":"13800138000","text":"a"}`)
	code, _ = post(h, "/channels/sms/generic", body, signed(g, body, time.Now()))
	require.Equal(t, http.StatusServiceUnavailable, code)
}

// FuzzAliyunPush: any body gets one of the documented answers; an accepted
// push left contacts with valid text and an E.164 or digit address.
func FuzzAliyunPush(f *testing.F) {
	q := newQueue(f, queuetest.Miniredis(f))
	g := newGateway(f, q, nil)
	h := mux(g)
	f.Add([]byte(`[{"phone_number":"13800138000","content":"路灯","sequence_id":1}]`))
	f.Add([]byte(`{"phone_number":"+86 138-0013-8000","content":"x","sequence_id":"s"}`))
	f.Add([]byte(`[{"phone_number":"00447700900123","content":"hello","send_time":"2025-03-01 09:00:00"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		code, out := post(h, "/channels/sms/aliyun", body, nil)
		switch code {
		case http.StatusOK:
			require.Equal(t, 0.0, out["code"])
			var items []aliyunUp
			if json.Unmarshal(body, &items) == nil {
				for _, it := range items {
					addr, _, err := address(it.PhoneNumber)
					require.NoError(t, err)
					require.True(t, strings.Trim(strings.TrimPrefix(addr, "+"), "0123456789") == "", addr)
				}
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			require.NotEqual(t, 0.0, out["code"])
			require.NotEmpty(t, out["msg"])
		default:
			t.Fatalf("status %d: %v", code, out)
		}
	})
}

// FuzzGenericPush: with a valid signature any body is taken or refused
// with a message naming the problem.
func FuzzGenericPush(f *testing.F) {
	q := newQueue(f, queuetest.Miniredis(f))
	g := newGateway(f, q, nil)
	h := mux(g)
	f.Add([]byte(`{"id":"1","from":"13800138000","text":"您好"}`))
	f.Add([]byte(`{"id":"2","from":"+8613800138000","to":"123456","text":"a","time":"2025-03-01T09:00:00+08:00"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		code, out := post(h, "/channels/sms/generic", body, signed(g, body, time.Now()))
		switch code {
		case http.StatusOK:
			c := contact(t, q, out["tracking_no"].(string))
			require.Equal(t, queue.ChannelSMS, c.Channel)
			require.NotEmpty(t, c.Citizen.Address)
		case http.StatusBadRequest:
			require.NotEmpty(t, out["message"])
		default:
			t.Fatalf("status %d: %v", code, out)
		}
	})
}

// A sender's phone number, Chinese or another country's, is the citizen's
// phone, the key that links their SMS, calls and letters; another
// country's stays itself, never read as a Chinese mobile. A short code is
// an address, no phone.
func TestSenderAddress(t *testing.T) {
	for _, c := range []struct{ from, addr, phone string }{
		{"8613800138000", "+8613800138000", "+8613800138000"},
		{"+86 138 0013 8000", "+8613800138000", "+8613800138000"},
		{"13800138000", "+8613800138000", "+8613800138000"},
		{"+14155550123", "+14155550123", "+14155550123"},
		{"0014155550123", "+14155550123", "+14155550123"},
		{"+1555", "+1555", ""},
		{"10658", "10658", ""},
	} {
		addr, phone, err := address(c.from)
		require.NoError(t, err, c.from)
		require.Equal(t, c.addr, addr, c.from)
		require.Equal(t, c.phone, phone, c.from)
	}
	_, _, err := address("abc")
	require.ErrorIs(t, err, ErrBadMessage)
}
