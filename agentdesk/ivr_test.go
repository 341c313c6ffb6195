package agentdesk

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lianxin/lianxin/hottopic"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// TestRecordingForSupervisorsAndItsAgent: a contact's recording is served
// to the agent who took it and to supervisors (token in the Authorization
// header only), 403 to another agent, 401 without a token.
func TestRecordingForSupervisorsAndItsAgent(t *testing.T) {
	e := startDesk(t)
	d := e.seat(t, "1001")
	tn := e.letter(t, "box-1", "市长信箱")
	require.Equal(t, tn, next(t, d, "offer").TrackingNo())
	send(t, d, "accept", map[string]any{"contact": tn})
	sha := strings.Repeat("ef", 32)
	require.NoError(t, e.q.SetRecording(context.Background(), tn, queue.Recording{SHA256: sha, Type: "audio/wav"}))
	url := e.base + "/api/contacts/" + tn + "/recording"
	tok1001, tok1002, tok1005 := e.login(t, "1001"), e.login(t, "1002"), e.login(t, "1005")
	c := http.DefaultClient

	st, body := get(t, c, url, tok1001)
	require.Equal(t, http.StatusOK, st, "%v", body)
	require.Equal(t, sha, body["raw"], "the blob")
	st, body = get(t, c, url, tok1005)
	require.Equal(t, http.StatusOK, st, "a supervisor: %v", body)
	st, body = get(t, c, url, tok1002)
	require.Equal(t, http.StatusForbidden, st, "another agent: %v", body)
	st, _ = get(t, c, url, "")
	require.Equal(t, http.StatusUnauthorized, st)
	st, _ = get(t, c, url+"?token="+tok1001, "")
	require.Equal(t, http.StatusUnauthorized, st, "never a token in the URL")

	other := e.letter(t, "box-1", "市长信箱")
	st, body = get(t, c, e.base+"/api/contacts/"+other+"/recording", tok1005)
	require.Equal(t, http.StatusNotFound, st)
	require.Equal(t, "no_recording", body["error"])
}

// TestPublicLookupShowsRating: the public lookup shows the citizen's rating.
func TestPublicLookupShowsRating(t *testing.T) {
	e := startDesk(t)
	d := e.seat(t, "1001")
	tn := e.letter(t, "box-1", "市长信箱")
	require.Equal(t, tn, next(t, d, "offer").TrackingNo())
	ctx := context.Background()
	_, err := e.q.AskRating(ctx, tn, queue.RatingAsk{Window: time.Hour})
	require.NoError(t, err)
	require.NoError(t, e.q.Rate(ctx, tn, 2))
	st, body := get(t, clientFrom("127.0.0.1"), e.base+"/api/contacts/"+tn+"?phone_last4=8000", "")
	require.Equal(t, http.StatusOK, st, "%v", body)
	r := body["rating"].(map[string]any)
	require.Equal(t, "基本满意", r["label"])
	require.EqualValues(t, 2, r["score"])
	require.NotEmpty(t, r["at"])
}

func multipartWAV(t *testing.T, line, text string, wav []byte) (string, *bytes.Buffer) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("line", line))
	require.NoError(t, mw.WriteField("text", text))
	fw, err := mw.CreateFormFile("audio", "topic.wav")
	require.NoError(t, err)
	_, err = fw.Write(wav)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), &body
}

// TestHotTopicsFromTheDesk: a supervisor's desk gets the list on connect;
// a publish whose speech cannot be made fails with tts_unavailable and a
// Chinese message, nothing published; a recorded WAV is published over HTTP
// (supervisors only) and every supervisor's desk gets the new list; an
// agent's publish is forbidden; withdraw empties the list.
func TestHotTopicsFromTheDesk(t *testing.T) {
	e := startDesk(t, func(p *Params) { p.HotTopics = hottopic.New(p.Redis, p.Prefix, []string{"/nonexistent/tts"}) })
	sup := e.seat(t, "1005")
	m := next(t, sup, "hot_topics")
	require.JSONEq(t, `{"type":"hot_topics","topics":[]}`, string(m.Raw))

	ref, err := sup.Send("hot_topic_publish", map[string]any{"line": "12345", "text": "停水通知"})
	require.NoError(t, err)
	m = next(t, sup, "error")
	require.Equal(t, ref, m.Ref)
	require.Equal(t, "tts_unavailable", m.Code)
	require.Contains(t, m.Message, "语音合成")
	ref, err = sup.Send("hot_topic_publish", map[string]any{"line": "abc", "text": "停水通知"})
	require.NoError(t, err)
	m = next(t, sup, "error")
	require.Equal(t, "bad_message", m.Code)

	ag := e.seat(t, "1001")
	_, err = ag.Send("hot_topic_publish", map[string]any{"line": "12345", "text": "停水通知"})
	require.NoError(t, err)
	require.Equal(t, "forbidden", next(t, ag, "error").Code)

	wav := siptest.EncodeWAV(siptest.SineWave(800, 8000, 8000), siptest.SampleRate)
	post := func(agent string, wav []byte) (int, map[string]any) {
		ct, body := multipartWAV(t, "*", "今日停电检修答复", wav)
		req, err := http.NewRequest(http.MethodPost, e.base+"/api/hot-topics", body)
		require.NoError(t, err)
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+e.login(t, agent))
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		return res.StatusCode, out
	}
	st, out := post("1001", wav)
	require.Equal(t, http.StatusForbidden, st, "%v", out)
	st, out = post("1005", []byte("RIFF not a wav"))
	require.Equal(t, http.StatusBadRequest, st, "%v", out)
	st, out = post("1005", wav)
	require.Equal(t, http.StatusCreated, st, "%v", out)
	id := out["id"].(string)
	var list struct {
		Topics []hottopic.Topic `json:"topics"`
	}
	require.NoError(t, json.Unmarshal(next(t, sup, "hot_topics").Raw, &list))
	require.Len(t, list.Topics, 1)
	require.Equal(t, id, list.Topics[0].ID)
	require.Equal(t, "*", list.Topics[0].Line)
	require.Equal(t, "今日停电检修答复", list.Topics[0].Text)
	require.Equal(t, "1005", list.Topics[0].By)

	send(t, sup, "hot_topic_withdraw", map[string]any{"id": id})
	require.JSONEq(t, `{"type":"hot_topics","topics":[]}`, string(next(t, sup, "hot_topics").Raw))
	_, err = sup.Send("hot_topic_withdraw", map[string]any{"id": id})
	require.NoError(t, err)
	require.Equal(t, "not_found", next(t, sup, "error").Code)
}
