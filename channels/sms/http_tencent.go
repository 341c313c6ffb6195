package sms

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// tencentReply is a Tencent Cloud SMS reply callback (回复短信回调).
type tencentReply struct {
	Extend     string `json:"extend"`
	Mobile     string `json:"mobile"`
	NationCode string `json:"nationcode"`
	Sign       string `json:"sign"`
	Text       string `json:"text"`
	Time       flexID `json:"time"` // Unix seconds
}

// tencent serves POST /channels/sms/tencent; {"result":0} only once the
// reply is durable.
func (g *Gateway) tencent(w http.ResponseWriter, r *http.Request) {
	g.push(w, r, cloudPush{provider: "tencent", token: g.c.Tencent.Token, parse: parseTencent, answer: tencentAnswerBody})
}

// parseTencent reads one callback object (or an array of them).
func parseTencent(body []byte) ([]inbound, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' {
		body = append(append([]byte{'['}, body...), ']')
	}
	var items []tencentReply
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&items); err != nil {
		return nil, jsonError("", err)
	}
	if dec.More() || len(items) == 0 {
		return nil, refuse(http.StatusBadRequest, "body: one callback object expected")
	}
	out := make([]inbound, 0, len(items))
	for _, it := range items {
		from := it.Mobile
		if it.NationCode != "" && it.NationCode != "86" {
			if strings.Trim(it.NationCode, "0123456789") != "" || len(it.NationCode) > 4 {
				return nil, refuse(http.StatusBadRequest, "nationcode: %s is not a country code", quote(it.NationCode))
			}
			from = "+" + it.NationCode + it.Mobile
		}
		if _, _, err := address(from); err != nil {
			return nil, refuse(http.StatusBadRequest, "mobile: %v", err)
		}
		m := inbound{provider: "tencent", from: from, to: it.Extend, text: it.Text}
		if it.Time != "" {
			sec, err := strconv.ParseInt(string(it.Time), 10, 64)
			if err != nil || sec < 0 || sec > 1<<40 {
				return nil, refuse(http.StatusBadRequest, "time: %s is not Unix seconds", quote(string(it.Time)))
			}
			m.at = time.Unix(sec, 0).UTC()
		}
		// Tencent gives no message id: the sender, time and text are one.
		m.idem = "sms:tencent:" + contentKey(from, string(it.Time), it.Extend, it.Text)
		out = append(out, m)
	}
	return out, nil
}
