// Package smscloudtest runs fakes of the Aliyun and Tencent Cloud SendSms
// APIs for tests. Each checks a request's signature the way the provider
// does (recomputes it from the request and compares), refuses a bad one
// in the provider's own error format, and hands every SMS it accepts to
// the test. A test can make the next requests fail with any code.
package smscloudtest

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels/sms/cloudsig"
)

// Sent is one SMS a fake accepted.
type Sent struct {
	Phone    string
	Template string
	// Params are Aliyun's TemplateParam (by name) or Tencent's
	// TemplateParamSet (by position: "1", "2", …).
	Params map[string]string
	// ID is the BizId or SerialNo the fake answered.
	ID string
	// Ref is Aliyun's OutId or Tencent's SessionContext.
	Ref string
}

// fake is what both fakes share.
type fake struct {
	srv   *httptest.Server
	Sent  chan Sent
	mu    sync.Mutex
	fails []string
	seen  map[string]bool // nonces
	n     int
	// Refused counts requests refused for a bad signature or credentials.
	refused int
}

// URL is the fake's base URL (the sender's endpoint).
func (f *fake) URL() string { return f.srv.URL }

// FailNext makes the next len(codes) SMS fail, one code each. "HTTP503"
// answers 503 with a plain-text body; any other code is answered as the
// provider answers that code.
func (f *fake) FailNext(codes ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fails = append(f.fails, codes...)
}

// Refused is how many requests were refused for their signature or
// credentials.
func (f *fake) Refused() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused
}

func (f *fake) nextFail() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.fails) == 0 {
		return ""
	}
	c := f.fails[0]
	f.fails = f.fails[1:]
	return c
}

func (f *fake) refuse() {
	f.mu.Lock()
	f.refused++
	f.mu.Unlock()
}

func (f *fake) nextID() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return f.n
}

func (f *fake) nonceUsed(n string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen[n] {
		return true
	}
	f.seen[n] = true
	return false
}

func newFake(t testing.TB, h func(f *fake) http.Handler) *fake {
	f := &fake{Sent: make(chan Sent, 64), seen: map[string]bool{}}
	f.srv = httptest.NewServer(h(f))
	t.Cleanup(f.srv.Close)
	return f
}

func reqID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Aliyun is a fake dysmsapi (SendSms, RPC signature, version 2017-05-25).
type Aliyun struct {
	*fake
	keyID, secret string
}

// StartAliyun starts a fake Aliyun SMS API that knows one AccessKey.
func StartAliyun(t testing.TB, keyID, secret string) *Aliyun {
	a := &Aliyun{keyID: keyID, secret: secret}
	a.fake = newFake(t, func(f *fake) http.Handler { return http.HandlerFunc(a.serve) })
	return a
}

func (a *Aliyun) serve(w http.ResponseWriter, r *http.Request) {
	bad := func(status int, code, msg string) {
		writeJSON(w, status, map[string]string{"RequestId": reqID(), "HostId": "dysmsapi.aliyuncs.com",
			"Code": code, "Message": msg, "Recommend": "https://api.aliyun.com/troubleshoot?q=" + code})
	}
	if err := r.ParseForm(); err != nil {
		bad(400, "InvalidParameter", err.Error())
		return
	}
	p := r.Form
	for _, k := range []string{"AccessKeyId", "Action", "Format", "SignatureMethod", "SignatureNonce",
		"SignatureVersion", "Timestamp", "Version", "Signature"} {
		if p.Get(k) == "" {
			bad(400, "MissingParameter", "The input parameter \""+k+"\" that is mandatory for processing this request is not supplied.")
			return
		}
	}
	if p.Get("AccessKeyId") != a.keyID {
		a.refuse()
		bad(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
		return
	}
	if p.Get("SignatureMethod") != "HMAC-SHA1" || p.Get("SignatureVersion") != "1.0" {
		bad(400, "InvalidParameter", "SignatureMethod or SignatureVersion is not supported.")
		return
	}
	ts, err := time.Parse("2006-01-02T15:04:05Z", p.Get("Timestamp"))
	if err != nil || time.Since(ts).Abs() > 15*time.Minute {
		a.refuse()
		bad(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
		return
	}
	want := cloudsig.AliyunRPC(r.Method, p, a.secret)
	if !hmac.Equal([]byte(want), []byte(p.Get("Signature"))) {
		a.refuse()
		bad(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:"+
			cloudsig.AliyunStringToSign(r.Method, p))
		return
	}
	if a.nonceUsed(p.Get("SignatureNonce")) {
		bad(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
		return
	}
	if p.Get("Action") != "SendSms" || p.Get("Version") != "2017-05-25" {
		bad(400, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
		return
	}
	biz := func(code, msg string) {
		writeJSON(w, 200, map[string]string{"RequestId": reqID(), "Code": code, "Message": msg})
	}
	phone, tpl, sign := p.Get("PhoneNumbers"), p.Get("TemplateCode"), p.Get("SignName")
	switch {
	case phone == "" || strings.Trim(phone, "0123456789") != "":
		biz("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
		return
	case tpl == "":
		biz("isv.SMS_TEMPLATE_ILLEGAL", "模板不合法(不存在或被拉黑)")
		return
	case sign == "":
		biz("isv.SMS_SIGNATURE_ILLEGAL", "签名不合法(不存在或被拉黑)")
		return
	}
	params := map[string]string{}
	if tp := p.Get("TemplateParam"); tp != "" {
		if err := json.Unmarshal([]byte(tp), &params); err != nil {
			biz("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
			return
		}
	}
	if c := a.nextFail(); c != "" {
		if c == "HTTP503" {
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			return
		}
		biz(c, "fake failure "+c)
		return
	}
	id := fmt.Sprintf("%d^0", 900000000000000000+a.nextID())
	a.Sent <- Sent{Phone: phone, Template: tpl, Params: params, ID: id, Ref: p.Get("OutId")}
	writeJSON(w, 200, map[string]string{"RequestId": reqID(), "BizId": id, "Code": "OK", "Message": "OK"})
}

// Tencent is a fake Tencent Cloud SMS API (SendSms, TC3-HMAC-SHA256,
// version 2021-01-11).
type Tencent struct {
	*fake
	secretID, secretKey, appID string
}

// StartTencent starts a fake Tencent Cloud SMS API that knows one key and
// one SmsSdkAppId.
func StartTencent(t testing.TB, secretID, secretKey, sdkAppID string) *Tencent {
	tc := &Tencent{secretID: secretID, secretKey: secretKey, appID: sdkAppID}
	tc.fake = newFake(t, func(f *fake) http.Handler { return http.HandlerFunc(tc.serve) })
	return tc
}

func (tc *Tencent) serve(w http.ResponseWriter, r *http.Request) {
	// Tencent answers errors with HTTP 200 and Response.Error.
	bad := func(code, msg string) {
		writeJSON(w, 200, map[string]any{"Response": map[string]any{
			"Error": map[string]string{"Code": code, "Message": msg}, "RequestId": reqID()}})
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		bad("InvalidParameter", "POST with a JSON body expected")
		return
	}
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "TC3-HMAC-SHA256 ")
	if !ok {
		tc.refuse()
		bad("AuthFailure.InvalidAuthorization", "Authorization header is missing or not TC3-HMAC-SHA256.")
		return
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 4 || cred[3] != "tc3_request" {
		tc.refuse()
		bad("AuthFailure.InvalidAuthorization", "Credential is malformed.")
		return
	}
	if cred[0] != tc.secretID {
		tc.refuse()
		bad("AuthFailure.SecretIdNotFound", "The SecretId is not found, please ensure that your SecretId is correct.")
		return
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		tc.refuse()
		bad("AuthFailure.SignatureExpire", "Signature expired, the timestamp is too far from the server's time.")
		return
	}
	hdr := map[string]string{}
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		switch h {
		case "host":
			hdr[h] = r.Host
		default:
			hdr[h] = r.Header.Get(h)
		}
	}
	sig := cloudsig.TC3{Method: r.Method, Path: "/", Query: r.URL.RawQuery, Headers: hdr, Body: body, Service: cred[2],
		Timestamp: ts}
	if _, ok := hdr["content-type"]; !ok || cred[1] != sig.Date() || cred[2] != "sms" ||
		!hmac.Equal([]byte(sig.Signature(tc.secretKey)), []byte(fields["Signature"])) {
		tc.refuse()
		bad("AuthFailure.SignatureFailure", "The provided credentials could not be validated. Please check your signature is correct.")
		return
	}
	if r.Header.Get("X-TC-Action") != "SendSms" || r.Header.Get("X-TC-Version") != "2021-01-11" {
		bad("InvalidAction", "The action or version is not supported.")
		return
	}
	var req struct {
		PhoneNumberSet   []string
		SmsSdkAppID      string `json:"SmsSdkAppId"`
		SignName         string
		TemplateID       string `json:"TemplateId"`
		TemplateParamSet []string
		SessionContext   string
	}
	if err := json.Unmarshal(body, &req); err != nil {
		bad("InvalidParameter", "The body is not JSON: "+err.Error())
		return
	}
	switch {
	case req.SmsSdkAppID != tc.appID:
		bad("UnauthorizedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId verify fail.")
		return
	case req.SignName == "":
		bad("FailedOperation.SignatureIncorrectOrUnapproved", "signature format error or signature not approved")
		return
	case req.TemplateID == "":
		bad("FailedOperation.TemplateIncorrectOrUnapproved", "template format error or template not approved")
		return
	case len(req.PhoneNumberSet) != 1:
		bad("InvalidParameterValue.IncorrectPhoneNumber", "the fake takes one number per request")
		return
	}
	phone := req.PhoneNumberSet[0]
	status := map[string]any{"PhoneNumber": phone, "SessionContext": req.SessionContext, "IsoCode": "CN"}
	params := map[string]string{}
	for i, v := range req.TemplateParamSet {
		params[strconv.Itoa(i+1)] = v
	}
	code := tc.nextFail()
	if code == "HTTP503" {
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	if code == "" && (!strings.HasPrefix(phone, "+") || strings.Trim(phone[1:], "0123456789") != "") {
		code = "InvalidParameterValue.IncorrectPhoneNumber"
	}
	if code != "" {
		status["SerialNo"], status["Fee"], status["Code"], status["Message"] = "", 0, code, "fake failure "+code
	} else {
		id := fmt.Sprintf("2640:%d", 178500000000000000+tc.nextID())
		status["SerialNo"], status["Fee"], status["Code"], status["Message"] = id, 1, "Ok", "send success"
		tc.Sent <- Sent{Phone: phone, Template: req.TemplateID, Params: params, ID: id, Ref: req.SessionContext}
	}
	writeJSON(w, 200, map[string]any{"Response": map[string]any{"SendStatusSet": []any{status}, "RequestId": reqID()}})
}
