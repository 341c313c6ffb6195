package agentdesk

import (
	"encoding/json"
	"testing"

	"github.com/lianxin/lianxin/hottopic"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// TestHotTopicsFromTheWallboard: the wallboard gets the hot-topic list on
// connect, publishes (spoken by the node's TTS) and withdraws from its own
// socket; a bad line is refused naming the field, nothing published; the
// supervisor's desk and every wallboard get each new list.
func TestHotTopicsFromTheWallboard(t *testing.T) {
	siptest.RequireTools(t, "espeak-ng", "sox") // the default TTS; scripts/install-test-deps.sh installs them
	e := startDesk(t, func(p *Params) { p.HotTopics = hottopic.New(p.Redis, p.Prefix, nil) })
	w := e.wallboard(t)
	require.JSONEq(t, `{"type":"hot_topics","topics":[]}`, string(next(t, w, "hot_topics").Raw))
	sup := e.seat(t, "1005")
	next(t, sup, "hot_topics")

	requireError(t, reply(t, w, "hot_topic_publish", map[string]any{"line": "abc", "text": "停水通知"}), "bad_message", "line")
	requireError(t, reply(t, w, "hot_topic_publish", map[string]any{"line": "12345"}), "bad_message", "text")
	requireError(t, reply(t, w, "hot_topic_withdraw", map[string]any{}), "bad_message", "id")
	requireError(t, reply(t, w, "hot_topic_withdraw", map[string]any{"id": "nope"}), "not_found", "")
	for _, m := range until(t, sup) {
		require.NotEqual(t, "hot_topics", m.Type, "nothing was published: %s", m.Raw)
	}

	m := reply(t, w, "hot_topic_publish", map[string]any{"line": "12345", "text": "今天城东片区停水检修，请提前储水。"})
	require.Equal(t, "ack", m.Type, string(m.Raw))
	var list struct {
		Topics []hottopic.Topic `json:"topics"`
	}
	for _, c := range []string{"wallboard", "desk"} {
		src := w
		if c == "desk" {
			src = sup
		}
		require.NoError(t, json.Unmarshal(next(t, src, "hot_topics").Raw, &list), c)
		require.Len(t, list.Topics, 1, c)
		require.Equal(t, "12345", list.Topics[0].Line)
		require.Equal(t, "1005", list.Topics[0].By)
	}
	id := list.Topics[0].ID
	wav, err := e.s.hot.Audio(t.Context(), id)
	require.NoError(t, err)
	require.Greater(t, len(wav), 8000, "spoken")

	require.Equal(t, "ack", reply(t, w, "hot_topic_withdraw", map[string]any{"id": id}).Type)
	require.JSONEq(t, `{"type":"hot_topics","topics":[]}`, string(next(t, w, "hot_topics").Raw))
	require.JSONEq(t, `{"type":"hot_topics","topics":[]}`, string(next(t, sup, "hot_topics").Raw))
}
