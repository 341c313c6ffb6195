package sms

import (
	"net/http"
	"strings"
	"time"
)

// aliyunUp is one item of an Aliyun SmsUp push (上行短信).
type aliyunUp struct {
	PhoneNumber string `json:"phone_number"`
	SendTime    string `json:"send_time"` // "2006-01-02 15:04:05", China time
	Content     string `json:"content"`
	SignName    string `json:"sign_name"`
	DestCode    string `json:"dest_code"`
	SequenceID  flexID `json:"sequence_id"`
}

// chinaTime is the providers' clock (UTC+8).
var chinaTime = time.FixedZone("CST", 8*3600)

// aliyun serves POST /channels/sms/aliyun. Aliyun retries until it gets
// {"code":0,...}: that answer is given only once every item is durable.
func (g *Gateway) aliyun(w http.ResponseWriter, r *http.Request) {
	g.push(w, r, cloudPush{provider: "aliyun", token: g.c.Aliyun.Token, parse: parseAliyun, answer: aliyunAnswerBody})
}

// parseAliyun reads a push: a JSON array of items (a lone object is taken
// as one). Every item is checked before any is stored.
func parseAliyun(body []byte) ([]inbound, error) {
	items, err := jsonArray[aliyunUp](body, "messages")
	if err != nil {
		return nil, err
	}
	out := make([]inbound, 0, len(items))
	for i, it := range items {
		if _, _, err := address(it.PhoneNumber); err != nil {
			return nil, refuse(http.StatusBadRequest, "[%d].phone_number: %v", i, err)
		}
		m := inbound{provider: "aliyun", from: it.PhoneNumber, to: it.DestCode, text: it.Content}
		if it.SendTime != "" {
			t, err := time.ParseInLocation(time.DateTime, strings.TrimSpace(it.SendTime), chinaTime)
			if err != nil {
				return nil, refuse(http.StatusBadRequest, "[%d].send_time: %q is not yyyy-MM-dd HH:mm:ss", i,
					it.SendTime)
			}
			m.at = t
		}
		if it.SequenceID != "" {
			m.idem = "sms:aliyun:" + string(it.SequenceID)
		} else {
			m.idem = "sms:aliyun:" + contentKey(it.PhoneNumber, it.SendTime, it.DestCode, it.Content)
		}
		if len(m.idem) > 200 {
			return nil, refuse(http.StatusBadRequest, "[%d].sequence_id: longer than 180 characters", i)
		}
		out = append(out, m)
	}
	return out, nil
}
