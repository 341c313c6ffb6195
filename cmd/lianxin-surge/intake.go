package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/smtp"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lianxin/lianxin/channels/sms"
	"github.com/lianxin/lianxin/channels/wechat"
	"github.com/lianxin/lianxin/configs"
)

// Secrets of the replay's own accounts (a throwaway config; never real).
const (
	wechatAccount = "cd12345"
	wechatToken   = "surgetoken"
	wechatAppID   = "wx5urge00000000001"
	smsToken      = "surge-push-token"
	smsSecret     = "surge-generic-secret"
)

// wechatAESKey is the account's EncodingAESKey: 32 bytes in base64
// without its "=".
var wechatAESKey = base64.StdEncoding.EncodeToString([]byte("surge-replay-aes-key-32-bytes-ok"))[:43]

// marker is what ties an offer on a desk to the contact sent: every
// replayed contact's text carries "surge-<8 digits>".
var markerRE = regexp.MustCompile(`surge-(\d{8})`)

func marker(i int) string { return fmt.Sprintf("surge-%08d", i) }

// texts are what citizens wrote during the surge (consultations,
// requests for help, complaints); none names an emergency.
var texts = []string{
	"请问小区封控期间核酸检测点在哪里，几点开始？",
	"小区封控，家里老人需要买药，请问怎么办理？",
	"外卖和快递进不了小区，生活物资怎么保障？",
	"居家办公期间社保缴费能否延期？",
	"核酸检测结果一直查不到，健康码变黄了怎么处理？",
	"建议增设核酸采样点，排队时间太长。",
	"物业不让业主下楼取物资，投诉物业。",
	"企业员工返岗需要哪些手续？",
}

// intake sends one contact through its channel and returns the tracking
// number when the answer carries one ("" when the channel's answer does
// not: Aliyun's and Tencent's pushes, SMTP). An error wrapping errRetry is
// temporary: the provider sends the same contact again.
type intake struct {
	base     string // the node's HTTP base URL
	smtpAddr string
	boxes    []configs.Mailbox
	hc       *http.Client
	crypt    *wechat.Crypter
}

var errRetry = errors.New("temporary")

func (in *intake) text(i int) string {
	return texts[hash(uint64(i)^0x5bd1e995)%uint64(len(texts))] + " [" + marker(i) + "]"
}

func (in *intake) box(i int) configs.Mailbox { return in.boxes[hash(uint64(i))%uint64(len(in.boxes))] }

// phone is citizen i's mobile number: every contact its own citizen, so
// that none joins another's open conversation.
func phone(i int) string { return fmt.Sprintf("139%08d", i) }

func (in *intake) send(ctx context.Context, i int, c channel, mail **smtp.Client) (string, error) {
	switch c {
	case chanWeb:
		return in.letter(ctx, i)
	case chanEmail:
		return "", in.email(i, mail)
	case chanWeChat:
		return in.wechat(ctx, i)
	case chanAliyun:
		item := map[string]any{"phone_number": phone(i), "content": in.text(i), "sign_name": "", "dest_code": "",
			"sequence_id": strconv.Itoa(1_000_000_000 + i),
			"send_time":   time.Now().In(time.FixedZone("CST", 8*3600)).Format(time.DateTime)}
		body, _ := json.Marshal([]any{item})
		return "", in.push(ctx, "/channels/sms/aliyun?token="+smsToken, body, nil, `"code":0`)
	case chanTencent:
		body, _ := json.Marshal(map[string]any{"extend": "", "mobile": phone(i), "nationcode": "86", "sign": "",
			"text": in.text(i), "time": time.Now().Unix()})
		return "", in.push(ctx, "/channels/sms/tencent?token="+smsToken, body, nil, `"result":0`)
	case chanGeneric:
		body, _ := json.Marshal(sms.GenericSMS{ID: marker(i), From: phone(i), To: "12345", Text: in.text(i)})
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		h := http.Header{sms.HeaderTimestamp: {ts}, sms.HeaderSignature: {sms.Sign([]byte(smsSecret), ts, body)}}
		var out struct {
			TrackingNo string `json:"tracking_no"`
		}
		err := in.post(ctx, "/channels/sms/generic", "application/json", body, h, http.StatusOK, &out)
		return out.TrackingNo, err
	}
	return "", fmt.Errorf("channel %q: not replayed", c)
}

// letter posts a web letter to one of the directory's mailboxes.
func (in *intake) letter(ctx context.Context, i int) (string, error) {
	body, _ := json.Marshal(map[string]string{"name": "市民", "phone": phone(i), "subject": "来信 " + marker(i),
		"text": in.text(i)})
	var out struct {
		TrackingNo string `json:"tracking_no"`
	}
	err := in.post(ctx, "/channels/mailbox/"+in.box(i).ID+"/letters", "application/json", body,
		http.Header{"Idempotency-Key": {marker(i)}}, http.StatusAccepted, &out)
	return out.TrackingNo, err
}

// wechat posts a text message as WeChat does in safe mode: encrypted,
// with msg_signature, and reads the tracking number from the encrypted
// passive reply.
func (in *intake) wechat(ctx context.Context, i int) (string, error) {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := strconv.FormatUint(hash(uint64(i))%1e9, 10)
	openid := fmt.Sprintf("oSurge%010d", i)
	msg := `<xml><ToUserName><![CDATA[gh_surge]]></ToUserName><FromUserName><![CDATA[` + openid + `]]></FromUserName>` +
		`<CreateTime>` + ts + `</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[` + in.text(i) +
		`]]></Content><MsgId>` + strconv.Itoa(7_000_000_000_000_000+i) + `</MsgId></xml>`
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	enc := in.crypt.Encrypt([]byte(msg), rnd)
	body := `<xml><ToUserName><![CDATA[gh_surge]]></ToUserName><Encrypt><![CDATA[` + enc + `]]></Encrypt></xml>`
	q := url.Values{"signature": {wechat.Signature(wechatToken, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce},
		"openid": {openid}, "encrypt_type": {"aes"}, "msg_signature": {in.crypt.Sign(ts, nonce, enc)}}
	var raw []byte
	if err := in.post(ctx, "/channels/wechat/"+wechatAccount+"?"+q.Encode(), "text/xml", []byte(body), nil,
		http.StatusOK, &raw); err != nil {
		return "", err
	}
	var env struct {
		Encrypt string `xml:"Encrypt"`
	}
	if err := xml.Unmarshal(raw, &env); err != nil || env.Encrypt == "" {
		return "", fmt.Errorf("wechat: the answer is not an encrypted reply: %.200s", raw)
	}
	plain, err := in.crypt.Decrypt(env.Encrypt)
	if err != nil {
		return "", fmt.Errorf("wechat: the reply: %w", err)
	}
	var reply struct {
		Content string `xml:"Content"`
	}
	if err := xml.Unmarshal(plain, &reply); err != nil {
		return "", fmt.Errorf("wechat: the reply: %w", err)
	}
	return trackingRE.FindString(reply.Content), nil
}

var trackingRE = regexp.MustCompile(`\d{10,}`)

// push posts an SMS provider's push and checks its "stored" answer.
func (in *intake) push(ctx context.Context, path string, body []byte, h http.Header, ok string) error {
	var raw []byte
	if err := in.post(ctx, path, "application/json", body, h, http.StatusOK, &raw); err != nil {
		return err
	}
	if !bytes.Contains(bytes.ReplaceAll(raw, []byte(" "), nil), []byte(ok)) {
		return fmt.Errorf("%s: %w: answered %.200s", path, errRetry, raw)
	}
	return nil
}

// post sends body and decodes the answer into out (JSON, or the raw bytes
// into a *[]byte). 5xx, 429 and network errors are temporary.
func (in *intake) post(ctx context.Context, path, ctype string, body []byte, h http.Header, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := in.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", errRetry, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%w: %v", errRetry, err)
	}
	if resp.StatusCode != want {
		err := fmt.Errorf("%s: status %d: %.200s", strings.SplitN(path, "?", 2)[0], resp.StatusCode, raw)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			err = fmt.Errorf("%w: %v", errRetry, err)
		}
		return err
	}
	if b, ok := out.(*[]byte); ok {
		*b = raw
		return nil
	}
	return json.Unmarshal(raw, out)
}

// email sends one e-mail over the worker's SMTP connection (opened on
// first use, again after an error). A 4xx answer is temporary.
func (in *intake) email(i int, conn **smtp.Client) error {
	if *conn == nil {
		c, err := smtp.Dial(in.smtpAddr)
		if err != nil {
			return fmt.Errorf("%w: smtp: %v", errRetry, err)
		}
		if err := c.Hello("surge.invalid"); err != nil {
			_ = c.Close()
			return fmt.Errorf("%w: smtp: %v", errRetry, err)
		}
		*conn = c
	}
	c := *conn
	from := fmt.Sprintf("citizen%d@surge.invalid", i)
	box := in.box(i)
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@surge.invalid>\r\nDate: %s\r\n", from,
		box.Email, mime.BEncoding.Encode("UTF-8", "来信 "+marker(i)), marker(i), time.Now().Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(in.text(i)))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	err := func() error {
		if err := c.Mail(from); err != nil {
			return err
		}
		if err := c.Rcpt(box.Email); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
		return w.Close()
	}()
	if err != nil {
		_ = c.Close()
		*conn = nil
		var perr *textproto.Error
		if errors.As(err, &perr) && perr.Code >= 500 {
			return fmt.Errorf("smtp: %v", err)
		}
		return fmt.Errorf("%w: smtp: %v", errRetry, err)
	}
	return nil
}
