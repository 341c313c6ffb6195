package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/lianxin/lianxin/hottopic"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/lianxin/lianxin/sip/media"
	"github.com/lianxin/lianxin/sip/siptest"
	"github.com/stretchr/testify/require"
)

// topicsOf reads a hot_topics message.
func topicsOf(t *testing.T, raw json.RawMessage) []hottopic.Topic {
	t.Helper()
	var m struct {
		Topics []hottopic.Topic `json:"topics"`
	}
	require.NoError(t, json.Unmarshal(raw, &m))
	return m.Topics
}

// heardFrames counts the frames of clip the caller received byte for byte
// (in the codec of the call), in clip order: the prompt as the gateway
// plays it.
func heardFrames(ps []siptest.RTPPacket, clip *media.Clip) int {
	best := 0
	for i := range ps {
		c := media.Codec(ps[i].PayloadType)
		if !c.Valid() {
			continue
		}
		for k := 0; k < clip.Frames(); k++ {
			if !bytes.Equal(ps[i].Payload, clip.Frame(k, c)) {
				continue
			}
			n := 0
			for i+n < len(ps) && k+n < clip.Frames() && bytes.Equal(ps[i+n].Payload, clip.Frame(k+n, c)) {
				n++
			}
			best = max(best, n)
			break
		}
	}
	return best
}

// TestHotTopicAcrossNodes: a supervisor publishes a hot-topic answer from
// the desk on node A (spoken by espeak-ng at runtime); a caller of node B,
// on the same Redis, hears it right after the welcome — the spoken audio
// itself, frame for frame — presses 1, and the contact closes resolved by
// the IVR. An agent who is no supervisor may not publish.
func TestHotTopicAcrossNodes(t *testing.T) {
	t.Parallel()
	siptest.RequireTools(t, "espeak-ng", "sox")
	s := queuetest.RedisServer(t)
	a := startNode(t, s.URL, "node-a", noMenus)
	b := startNode(t, s.URL, "node-b", noMenus)
	sup := desk(t, a.base, "1005")
	require.Empty(t, topicsOf(t, next(t, sup, "hot_topics").Raw), "the list on connect")

	ag := desk(t, a.base, "1001")
	ref, err := ag.Send("hot_topic_publish", map[string]any{"line": "12345", "text": "停水通知"})
	require.NoError(t, err)
	m := next(t, ag, "error")
	require.Equal(t, ref, m.Ref)
	require.Equal(t, "forbidden", m.Code)

	send(t, sup, "hot_topic_publish", map[string]any{"line": "12345",
		"text": "今天下午三点到六点，城东片区停水检修，请提前储水。"})
	topics := topicsOf(t, next(t, sup, "hot_topics").Raw)
	require.Len(t, topics, 1)
	require.Equal(t, "12345", topics[0].Line)
	require.Equal(t, "1005", topics[0].By)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	store := hottopic.New(s.Client(t), "{lianxin}:", nil)
	wav, err := store.Audio(ctx, topics[0].ID)
	require.NoError(t, err)
	pcm, err := media.ReadWAV(bytes.NewReader(wav))
	require.NoError(t, err)
	clip := media.NewClip("topic", pcm)
	require.Greater(t, clip.Frames(), 50, "seconds of speech")

	call, err := siptest.GoDial(ctx, t, siptest.GoCallOptions{Target: b.n.voice.Addr().String(), Number: "12345",
		From: "13900139001"})
	require.NoError(t, err)
	require.NoError(t, call.Rec.WaitFor(ctx, func(p []siptest.RTPPacket) bool { return heardFrames(p, clip) >= clip.Frames()-2 }),
		"node B plays the topic published on node A")
	require.NoError(t, call.PressKey(ctx, 1))
	select {
	case <-call.Ended():
	case <-ctx.Done():
		t.Fatal("the gateway did not hang up after 1")
	}
	rdb := s.Client(t)
	keys, err := rdb.Keys(ctx, "{lianxin}:c:*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1)
	c, err := b.n.q.Contact(ctx, keys[0][len("{lianxin}:c:"):])
	require.NoError(t, err)
	require.Equal(t, "+8613900139001", c.Citizen.Phone)
	require.Equal(t, queue.StateClosed, c.State)
	require.Equal(t, queue.OutcomeResolved, c.Outcome)
	require.Equal(t, queue.ResolvedByIVR, c.ResolvedBy)

	send(t, sup, "hot_topic_withdraw", map[string]any{"id": topics[0].ID})
	require.Empty(t, topicsOf(t, next(t, sup, "hot_topics").Raw))
}
