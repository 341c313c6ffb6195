package wechat

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
)

// maxTextRunes bounds the text a message puts into the queue.
const maxTextRunes = 4000

// push is what one WeChat push asks of us, read from its Message.
type push struct {
	from       string // OpenID (official) or UserID (WeCom)
	createTime int64
	msgType    string // text, image, …, event
	event      string // subscribe, unsubscribe, scan, click, view, location (lower case)
	kind       string // the queue.Message kind: text, image, voice, video, location, link, event
	text       string
	location   *queue.Location
	mediaID    string // image, voice, video to fetch in the background
	idemKey    string
	contact    bool // whether the push becomes (or joins) a contact
	welcome    bool // whether to answer with the welcome text
}

// read checks a decrypted Message and says what to do with it. account is
// the account's id, for the idempotency key.
func (m *Message) read(account string) (*push, error) {
	p := &push{from: m.FromUserName, msgType: strings.ToLower(strings.TrimSpace(m.MsgType))}
	if err := checkID("FromUserName", m.FromUserName, 128, true); err != nil {
		return nil, err
	}
	var err error
	if p.createTime, err = parseDigits("CreateTime", m.CreateTime, true); err != nil {
		return nil, err
	}
	if p.msgType == "" {
		return nil, badField("MsgType", "is required")
	}
	if len(p.msgType) > 32 || strings.ContainsFunc(p.msgType, func(r rune) bool { return (r < 'a' || r > 'z') && r != '_' }) {
		return nil, badField("MsgType", "%q is not a WeChat message type", clip(m.MsgType))
	}
	if p.msgType == "event" {
		return p, p.readEvent(m, account)
	}
	msgID, err := parseDigits("MsgId", m.MsgID, true)
	if err != nil {
		return nil, err
	}
	p.idemKey = "wechat:" + account + ":" + strconv.FormatInt(msgID, 10)
	p.contact = true
	p.kind = p.msgType
	switch p.msgType {
	case "text":
		p.text = channels.Clean(m.Content)
		if p.text == "" {
			p.text = "[空白消息]"
		}
	case "image", "voice", "video", "shortvideo":
		if err := checkID("MediaId", m.MediaID, 256, true); err != nil {
			return nil, err
		}
		p.mediaID = m.MediaID
		p.text = map[string]string{"image": "[图片]", "voice": "[语音]", "video": "[视频]", "shortvideo": "[小视频]"}[p.msgType]
		if p.msgType == "shortvideo" {
			p.kind = "video"
		}
		if r := channels.Clean(m.Recognition); p.msgType == "voice" && r != "" {
			p.text += " " + r
		}
	case "location":
		lat, err := parseCoord("Location_X", m.LocationX, 90)
		if err != nil {
			return nil, err
		}
		lng, err := parseCoord("Location_Y", m.LocationY, 180)
		if err != nil {
			return nil, err
		}
		label := channels.Clean(m.Label)
		p.location = &queue.Location{Address: label, Lat: lat, Lng: lng}
		p.text = strings.TrimSpace("[位置] " + label)
	case "link":
		p.text = strings.TrimSpace("[链接] " + channels.Clean(m.Title) + "\n" + channels.Clean(m.Description) + "\n" +
			channels.Clean(m.URL))
	default:
		p.kind = "text"
		p.text = "[暂不支持显示的消息类型：" + p.msgType + "，请让市民改用文字描述]"
	}
	p.text = truncate(p.text, maxTextRunes)
	return p, nil
}

// readEvent: subscribe and SCAN get the welcome; CLICK on a menu is a
// citizen asking, so it becomes (or joins) a contact; unsubscribe, VIEW and
// LOCATION reports are only acknowledged. Events carry no MsgId: the
// sender, CreateTime and event name identify a retry.
func (p *push) readEvent(m *Message, account string) error {
	p.event = strings.ToLower(strings.TrimSpace(m.Event))
	if p.event == "" {
		return badField("Event", "is required for MsgType event")
	}
	if len(p.event) > 64 || strings.ContainsFunc(p.event, func(r rune) bool { return (r < 'a' || r > 'z') && r != '_' }) {
		return badField("Event", "%q is not a WeChat event", clip(m.Event))
	}
	p.kind = "event"
	p.idemKey = "wechat:" + account + ":ev:" + p.from + ":" + strconv.FormatInt(p.createTime, 10) + ":" + p.event
	switch p.event {
	case "subscribe", "scan":
		p.welcome = true
	case "click":
		key := channels.Clean(m.EventKey)
		if key == "" {
			return badField("EventKey", "is required for a CLICK event")
		}
		p.contact = true
		p.text = truncate("[菜单] "+key, maxTextRunes)
	case "location":
		if _, err := parseCoord("Latitude", m.Latitude, 90); err != nil {
			return err
		}
		if _, err := parseCoord("Longitude", m.Longitude, 180); err != nil {
			return err
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// subject is the first line of the text, shortened for the desk's list.
func subject(text string) string {
	line, _, _ := strings.Cut(text, "\n")
	return truncate(line, 40)
}
