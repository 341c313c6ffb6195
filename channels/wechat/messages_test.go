package wechat_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

const citizen = "oCitizen_2k7xQ9mWbLhR3sTuVwXyZ01"

// Every message type of the official account, in safe mode: the first
// starts a contact, the others join it, each answered with the tracking
// number; retries are answered alike and add nothing.
func TestEveryMessageTypeJoinsTheConversation(t *testing.T) {
	queuetest.Each(t, func(t *testing.T, s *queuetest.Server) {
		e := newEnv(t, s)
		ctx := context.Background()
		resp, body := e.post(acctSafe, readFile(t, "messages/text.xml"))
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		first := e.replyText(acctSafe, body)
		require.Equal(t, channels.Ack(tnOf(t, first)), first)
		tn := tnOf(t, first)
		c, err := e.q.Contact(ctx, tn)
		require.NoError(t, err)
		require.Equal(t, "请问武侯区哪里可以办理居住证？", c.Text)
		require.Equal(t, queue.RequestConsultation, c.RequestType)
		require.Equal(t, citizen, c.Citizen.Address)
		require.Equal(t, "成都12345", c.LineName)

		want := []struct {
			file, kind, text string
		}{
			{"image.xml", "image", "[图片]"},
			{"voice.xml", "voice", "[语音] 小区门口的路灯坏了一个星期了"},
			{"video.xml", "video", "[视频]"},
			{"shortvideo.xml", "shortvideo", "[小视频]"},
			{"location.xml", "location", "[位置] 四川省成都市武侯区人民南路四段"},
			{"link.xml", "link", "[链接] 小区违建情况说明\n附近工地夜间施工噪音扰民\nhttps://mp.weixin.qq.com/s/example"},
			{"event_click.xml", "event", "[菜单] 我要投诉"},
		}
		for _, w := range want {
			for try := 0; try < 2; try++ { // WeChat's retry of the same push
				resp, body := e.post(acctSafe, readFile(t, "messages/"+w.file))
				require.Equal(t, http.StatusOK, resp.StatusCode, body)
				text := e.replyText(acctSafe, body)
				require.Equal(t, tn, tnOf(t, text), w.file)
			}
		}
		msgs, err := e.q.Messages(ctx, tn)
		require.NoError(t, err)
		require.Len(t, msgs, len(want), "one message per push, none per retry")
		for i, w := range want {
			require.Equal(t, queue.FromCitizen, msgs[i].From)
			require.Equal(t, w.text, msgs[i].Text, w.file)
		}
		loc := msgs[4].Location
		require.NotNil(t, loc)
		require.InDelta(t, 30.642, loc.Lat, 1e-9)
		require.InDelta(t, 104.043, loc.Lng, 1e-9)
		require.Equal(t, "四川省成都市武侯区人民南路四段", loc.Address)
	})
}

func TestEventsWithoutAContact(t *testing.T) {
	e := newEnv(t, queuetest.Miniredis(t))
	for file, want := range map[string]string{
		"event_subscribe.xml": "感谢关注12345", "event_scan.xml": "感谢关注12345",
		"event_unsubscribe.xml": "", "event_view.xml": "", "event_location.xml": "",
	} {
		resp, body := e.post(acctSafe, readFile(t, "messages/"+file))
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		if want == "" {
			require.Equal(t, "success", body, file)
		} else {
			require.Contains(t, e.replyText(acctSafe, body), want, file)
		}
	}
	resp, body := e.post(acctPlain, readFile(t, "messages/event_subscribe.xml"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "欢迎关注！", e.replyText(acctPlain, body), "the account's own welcome")
	require.Zero(t, e.calls.receives.Load(), "following, leaving and browsing are not requests")
}

func TestPlaintextAndCompatibleModes(t *testing.T) {
	e := newEnv(t, queuetest.Miniredis(t))
	resp, body := e.post(acctPlain, readFile(t, "messages/text.xml"))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, "<ToUserName><![CDATA["+citizen+"]]></ToUserName>")
	require.Contains(t, body, "<FromUserName><![CDATA[gh_3f8a2b9c1d4e]]></FromUserName>")
	tnPlain := tnOf(t, e.replyText(acctPlain, body))

	resp, body = e.post(acctCompat, readFile(t, "messages/text.xml"))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, "<Encrypt>", "an encrypted push gets an encrypted reply")
	tnCompat := tnOf(t, e.replyText(acctCompat, body))
	require.NotEqual(t, tnPlain, tnCompat, "each account is a line of its own")
}

// Images, voice and video are fetched by media id in the background and
// added to the conversation; a media WeChat no longer has is reported.
func TestMediaIsFetchedAndAttached(t *testing.T) {
	e := newEnv(t, queuetest.Miniredis(t))
	e.run()
	jpeg := append([]byte{0xff, 0xd8, 0xff, 0xe0}, bytes.Repeat([]byte("jpeg"), 1000)...)
	amr := append([]byte("#!AMR\n"), bytes.Repeat([]byte{0x3c}, 500)...)
	mp4 := append([]byte("\x00\x00\x00\x18ftypmp42"), bytes.Repeat([]byte{1}, 3000)...)
	e.api.addMedia("img_Q2xY8cR1wT5uV7zA3bN6mK9pL0sD4fG", "image/jpeg", jpeg, false)
	e.api.addMedia("voice_Mz8Kq2Lw5Nx7Pc1Rv3Tb9Yd4Hf6Jg0", "audio/amr", amr, false)
	e.api.addMedia("video_Ab3Cd5Ef7Gh9Ij1Kl3Mn5Op7Qr9St1", "video/mp4", mp4, true)
	var tn string
	for _, f := range []string{"image.xml", "voice.xml", "video.xml", "shortvideo.xml"} {
		resp, body := e.post(acctSafe, readFile(t, "messages/"+f))
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		tn = tnOf(t, e.replyText(acctSafe, body))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var media []queue.Message
	for ctx.Err() == nil {
		msgs, err := e.q.Messages(ctx, tn)
		require.NoError(t, err)
		media = media[:0]
		for _, m := range msgs {
			if m.From == queue.FromSystem {
				media = append(media, m)
			}
		}
		if len(media) == 4 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.Len(t, media, 4)
	byKind := map[string][]queue.Message{}
	for _, m := range media {
		byKind[m.ID] = append(byKind[m.ID], m)
	}
	check := func(msgID, ctype string, body []byte) {
		m := byKind[msgID][0]
		require.Len(t, m.Attachments, 1, msgID)
		a := m.Attachments[0]
		require.Equal(t, ctype, a.Type)
		require.EqualValues(t, len(body), a.Size)
		rc, size, err := e.blobs.Open(ctx, a.SHA256)
		require.NoError(t, err)
		defer rc.Close()
		require.EqualValues(t, len(body), size)
	}
	check("24851234567890002", "image/jpeg", jpeg)
	check("24851234567890003", "audio/amr", amr)
	check("24851234567890004", "video/mp4", mp4)
	failed := byKind["24851234567890005"][0]
	require.Equal(t, "failed", failed.Status)
	require.Contains(t, failed.Text, "40007")
	require.Empty(t, failed.Attachments)
	require.Equal(t, 1, e.api.issuedTokens(), "one access token for all fetches")
}

func TestWeComMessage(t *testing.T) {
	e := newEnv(t, queuetest.Miniredis(t))
	msg := strings.NewReplacer("gh_3f8a2b9c1d4e", wcCorpID, citizen, "ZhangSan").Replace(readFile(t, "messages/text.xml"))
	msg = strings.Replace(msg, "</xml>", "<AgentID>1000002</AgentID></xml>", 1)
	resp, body := e.post(acctWeCom, msg)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	c, err := e.q.Contact(context.Background(), tnOf(t, e.replyText(acctWeCom, body)))
	require.NoError(t, err)
	require.Equal(t, "ZhangSan", c.Citizen.Address)
	require.Equal(t, acctWeCom, c.Line)
}
