package wechat

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Message is one XML push from WeChat or WeCom: a message or an event, or
// (in safe and compatible mode) the envelope around its Encrypt field.
// Fields keep WeChat's names; numbers stay text until read.
type Message struct {
	XMLName      xml.Name `xml:"xml"`
	ToUserName   string
	FromUserName string
	CreateTime   string
	MsgType      string
	MsgID        string `xml:"MsgId"`
	AgentID      string // WeCom
	Encrypt      string // safe and compatible mode

	Content      string // text
	PicURL       string `xml:"PicUrl"`  // image
	MediaID      string `xml:"MediaId"` // image, voice, video, shortvideo
	Format       string // voice: amr, speex
	Recognition  string // voice, when speech recognition is on
	ThumbMediaID string `xml:"ThumbMediaId"`
	LocationX    string `xml:"Location_X"` // location: latitude
	LocationY    string `xml:"Location_Y"` // location: longitude
	Scale        string
	Label        string
	Title        string // link
	Description  string
	URL          string `xml:"Url"`

	Event     string // subscribe, unsubscribe, SCAN, CLICK, VIEW, LOCATION
	EventKey  string
	Ticket    string
	Latitude  string // LOCATION event
	Longitude string
	Precision string
}

// parseXML reads one <xml> document. It refuses anything but a single
// <xml> root and names the element that is wrong.
func parseXML(b []byte) (*Message, error) {
	var m Message
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	d.Entity = nil
	if err := d.Decode(&m); err != nil {
		return nil, &fieldError{field: "body", msg: "not WeChat XML: " + xmlReason(err)}
	}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &fieldError{field: "body", msg: "not WeChat XML after </xml>: " + xmlReason(err)}
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, badField("body", "text after </xml>")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return nil, badField("body", "a second element after </xml>")
		}
	}
	return &m, nil
}

func xmlReason(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// Checks on fields that end up in keys, URLs and the queue.

func checkID(field, v string, max int, required bool) error {
	if v == "" {
		if required {
			return badField(field, "is required")
		}
		return nil
	}
	if len(v) > max {
		return badField(field, "is longer than %d characters", max)
	}
	for _, c := range []byte(v) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' ||
			c == '.' || c == '@' || c == '=') {
			return badField(field, "%q has characters WeChat does not use in ids", clip(v))
		}
	}
	return nil
}

func parseDigits(field, v string, required bool) (int64, error) {
	if v == "" {
		if required {
			return 0, badField(field, "is required")
		}
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, badField(field, "%q is not a non-negative integer", clip(v))
	}
	return n, nil
}

func parseCoord(field, v string, limit float64) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f != f || f < -limit || f > limit {
		return 0, badField(field, "%q is not a coordinate within ±%g", clip(v), limit)
	}
	return f, nil
}

func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// writeCDATA writes s as CDATA sections, splitting any "]]>" it holds.
func writeCDATA(b *bytes.Buffer, s string) {
	b.WriteString("<![CDATA[")
	b.WriteString(strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>"))
	b.WriteString("]]>")
}

// textReply is a passive reply with a text message.
func textReply(to, from string, createTime int64, content string) []byte {
	var b bytes.Buffer
	b.WriteString("<xml><ToUserName>")
	writeCDATA(&b, to)
	b.WriteString("</ToUserName><FromUserName>")
	writeCDATA(&b, from)
	b.WriteString("</FromUserName><CreateTime>")
	b.WriteString(strconv.FormatInt(createTime, 10))
	b.WriteString("</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>")
	writeCDATA(&b, content)
	b.WriteString("</Content></xml>")
	return b.Bytes()
}

// encryptedReply is the safe-mode envelope of a passive reply.
func encryptedReply(encrypt, sig, timestamp, nonce string) []byte {
	var b bytes.Buffer
	b.WriteString("<xml><Encrypt>")
	writeCDATA(&b, encrypt)
	b.WriteString("</Encrypt><MsgSignature>")
	writeCDATA(&b, sig)
	b.WriteString("</MsgSignature><TimeStamp>")
	b.WriteString(timestamp)
	b.WriteString("</TimeStamp><Nonce>")
	writeCDATA(&b, nonce)
	b.WriteString("</Nonce></xml>")
	return b.Bytes()
}
