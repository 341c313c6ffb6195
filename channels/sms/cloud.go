package sms

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lianxin/lianxin/channels/sms/cloudsig"
)

// sender sends one templated SMS through a cloud provider's SendSms API.
type sender interface {
	// send returns the provider's id of the SMS (Aliyun BizId, Tencent
	// SerialNo), which its delivery report will name. An error is a
	// *SendError when the provider answered.
	send(ctx context.Context, to string, t Template, values map[string]string, ref string) (string, error)
}

var (
	_ sender = (*aliyunSender)(nil)
	_ sender = (*tencentSender)(nil)
)

// SendError is a provider's refusal of an SMS.
type SendError struct {
	Provider string // aliyun, tencent
	// HTTPStatus is the HTTP status of the answer (0 when there was none).
	HTTPStatus int
	// Code and Message are the provider's own.
	Code, Message string
	// Temporary: the same SMS may go through later (throttling, the
	// provider's own trouble, the network).
	Temporary bool
}

func (e *SendError) Error() string {
	t := "permanent"
	if e.Temporary {
		t = "temporary"
	}
	return fmt.Sprintf("sms: %s SendSms failed (%s): %s %s", e.Provider, t, e.Code, e.Message)
}

// Chinese is the error as the desk shows it: the code and what it means.
func (e *SendError) Chinese() string {
	return providerName(e.Provider) + "错误 " + e.Code + "：" + explainCode(e.Provider, e.Code)
}

func providerName(p string) string {
	switch p {
	case PathAliyun:
		return "阿里云短信"
	case PathTencent:
		return "腾讯云短信"
	}
	return p
}

// temporary reports whether a send error may go away on a retry: network
// trouble, HTTP 5xx, and the provider's throttling and system codes.
func temporary(err error) bool {
	var se *SendError
	if errors.As(err, &se) {
		return se.Temporary
	}
	return err != nil
}

// maxAnswer bounds a provider's answer we read.
const maxAnswer = 64 << 10

// newNonce is a random hex string.
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// aliyunSender is Aliyun's dysmsapi SendSms (version 2017-05-25) with the
// RPC signature, as a form POST.
type aliyunSender struct {
	c    Sender
	http *http.Client
	now  func() time.Time
}

func (a *aliyunSender) send(ctx context.Context, to string, t Template, values map[string]string, ref string) (string, error) {
	params := map[string]string{}
	for _, p := range t.Params {
		params[p.Name] = values[p.Value]
	}
	tp, _ := json.Marshal(params)
	v := url.Values{}
	v.Set("AccessKeyId", a.c.KeyID)
	v.Set("Action", "SendSms")
	v.Set("Format", "JSON")
	v.Set("PhoneNumbers", aliyunNumber(to))
	v.Set("RegionId", a.c.Region)
	v.Set("SignName", a.c.SignName)
	v.Set("SignatureMethod", "HMAC-SHA1")
	v.Set("SignatureNonce", newNonce())
	v.Set("SignatureVersion", "1.0")
	v.Set("TemplateCode", t.ID)
	if len(params) > 0 {
		v.Set("TemplateParam", string(tp))
	}
	v.Set("Timestamp", a.now().UTC().Format("2006-01-02T15:04:05Z"))
	v.Set("Version", "2017-05-25")
	if ref != "" {
		v.Set("OutId", ref)
	}
	body := cloudsig.AliyunCanonicalQuery(v) + "&Signature=" + cloudsig.PercentEncode(cloudsig.AliyunRPC("POST", v, a.c.KeySecret))
	ctx, cancel := context.WithTimeout(ctx, a.c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(a.c.Endpoint, "/")+"/", strings.NewReader(body))
	if err != nil {
		return "", &SendError{Provider: PathAliyun, Code: "BadEndpoint", Message: err.Error()}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	status, b, err := do(a.http, req)
	if err != nil {
		return "", &SendError{Provider: PathAliyun, Code: "NetworkError", Message: err.Error(), Temporary: true}
	}
	return parseAliyunSend(status, b)
}

// aliyunAnswer is SendSms's answer (and Aliyun's error format).
type aliyunAnswer struct {
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	BizID     string `json:"BizId"`
	RequestID string `json:"RequestId"`
}

// parseAliyunSend reads SendSms's answer: Code "OK" with a BizId, or an
// error code.
func parseAliyunSend(status int, b []byte) (string, error) {
	var a aliyunAnswer
	if err := json.Unmarshal(b, &a); err != nil || a.Code == "" {
		return "", &SendError{Provider: PathAliyun, HTTPStatus: status, Code: "HTTP" + strconv.Itoa(status),
			Message: "unreadable answer: " + quote(string(b)), Temporary: status >= 500 || status == 429}
	}
	if a.Code == "OK" && status == http.StatusOK {
		if a.BizID == "" {
			return "", &SendError{Provider: PathAliyun, HTTPStatus: status, Code: "NoBizId",
				Message: "OK without a BizId", Temporary: false}
		}
		return a.BizID, nil
	}
	return "", &SendError{Provider: PathAliyun, HTTPStatus: status, Code: a.Code, Message: a.Message,
		Temporary: status >= 500 || aliyunTemporary(a.Code)}
}

// aliyunNumber is a number as PhoneNumbers wants it: mainland numbers
// without +86, others with their country code and no +.
func aliyunNumber(to string) string {
	if n, ok := strings.CutPrefix(to, "+86"); ok {
		return n
	}
	return strings.TrimPrefix(to, "+")
}

// tencentSender is Tencent Cloud's SendSms (version 2021-01-11) with
// TC3-HMAC-SHA256.
type tencentSender struct {
	c    Sender
	http *http.Client
	now  func() time.Time
}

type tencentSendReq struct {
	PhoneNumberSet   []string `json:"PhoneNumberSet"`
	SmsSdkAppID      string   `json:"SmsSdkAppId"`
	SignName         string   `json:"SignName"`
	TemplateID       string   `json:"TemplateId"`
	TemplateParamSet []string `json:"TemplateParamSet,omitempty"`
	SessionContext   string   `json:"SessionContext,omitempty"`
}

func (t *tencentSender) send(ctx context.Context, to string, tpl Template, values map[string]string, ref string) (string, error) {
	r := tencentSendReq{PhoneNumberSet: []string{tencentNumber(to)}, SmsSdkAppID: t.c.SdkAppID,
		SignName: t.c.SignName, TemplateID: tpl.ID, SessionContext: ref}
	for _, p := range tpl.Params {
		r.TemplateParamSet = append(r.TemplateParamSet, values[p.Value])
	}
	body, _ := json.Marshal(r)
	u, err := url.Parse(strings.TrimRight(t.c.Endpoint, "/") + "/")
	if err != nil {
		return "", &SendError{Provider: PathTencent, Code: "BadEndpoint", Message: err.Error()}
	}
	sig := cloudsig.TC3{Method: "POST", Path: "/", Headers: map[string]string{
		"content-type": "application/json; charset=utf-8", "host": u.Host}, Body: body, Service: "sms",
		Timestamp: t.now().Unix()}
	ctx, cancel := context.WithTimeout(ctx, t.c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return "", &SendError{Provider: PathTencent, Code: "BadEndpoint", Message: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", sig.Authorization(t.c.KeyID, t.c.KeySecret))
	req.Header.Set("X-TC-Action", "SendSms")
	req.Header.Set("X-TC-Version", "2021-01-11")
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(sig.Timestamp, 10))
	req.Header.Set("X-TC-Region", t.c.Region)
	status, b, err := do(t.http, req)
	if err != nil {
		return "", &SendError{Provider: PathTencent, Code: "NetworkError", Message: err.Error(), Temporary: true}
	}
	return parseTencentSend(status, b)
}

// tencentAnswer is the API's answer: an Error, or one status per number.
type tencentAnswer struct {
	Response struct {
		Error *struct {
			Code    string `json:"Code"`
			Message string `json:"Message"`
		} `json:"Error"`
		SendStatusSet []struct {
			SerialNo string `json:"SerialNo"`
			Code     string `json:"Code"`
			Message  string `json:"Message"`
		} `json:"SendStatusSet"`
		RequestID string `json:"RequestId"`
	} `json:"Response"`
}

// parseTencentSend reads SendSms's answer for our one number.
func parseTencentSend(status int, b []byte) (string, error) {
	var a tencentAnswer
	err := json.Unmarshal(b, &a)
	r := a.Response
	switch {
	case err != nil || (r.Error == nil && (len(r.SendStatusSet) == 0 || r.SendStatusSet[0].Code == "")) ||
		(r.Error != nil && r.Error.Code == ""):
		return "", &SendError{Provider: PathTencent, HTTPStatus: status, Code: "HTTP" + strconv.Itoa(status),
			Message: "unreadable answer: " + quote(string(b)), Temporary: status >= 500 || status == 429}
	case r.Error != nil:
		return "", &SendError{Provider: PathTencent, HTTPStatus: status, Code: r.Error.Code, Message: r.Error.Message,
			Temporary: status >= 500 || tencentTemporary(r.Error.Code)}
	}
	s := r.SendStatusSet[0]
	if strings.EqualFold(s.Code, "Ok") {
		if s.SerialNo == "" {
			return "", &SendError{Provider: PathTencent, HTTPStatus: status, Code: "NoSerialNo",
				Message: "Ok without a SerialNo"}
		}
		return s.SerialNo, nil
	}
	return "", &SendError{Provider: PathTencent, HTTPStatus: status, Code: s.Code, Message: s.Message,
		Temporary: tencentTemporary(s.Code)}
}

// tencentNumber is a number in E.164, as PhoneNumberSet wants it; a bare
// mainland number gets +86.
func tencentNumber(to string) string {
	if strings.HasPrefix(to, "+") {
		return to
	}
	return "+86" + strings.TrimPrefix(to, "86")
}

// do runs a request and reads the answer within maxAnswer.
func do(c *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}
