package sip

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lianxin/lianxin/hottopic"
	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/sip/media"
	"go.uber.org/zap"
)

// byIVR ends a call the hot-topic answer settled.
const byIVR = "ivr"

// hotTopics is this node's copy of the published hot-topic answers, each
// decoded once into a clip (encoded for both codecs) when it first appears:
// refreshed on every change notice and every Refresh.
type hotTopics struct {
	store *hottopic.Store
	log   *zap.Logger
	every time.Duration

	mu     sync.RWMutex
	topics []hotTopic // by publication, oldest first
}

type hotTopic struct {
	t    hottopic.Topic
	clip *media.Clip
}

// run follows the store until ctx ends.
func (h *hotTopics) run(ctx context.Context) error {
	go func() {
		for ctx.Err() == nil {
			if err := h.store.Watch(ctx, func() { h.refresh(ctx) }); err != nil && ctx.Err() == nil {
				h.log.Warn("hot-topic notices lost; subscribing again", zap.Error(err))
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			h.refresh(ctx)
		}
	}
}

// refresh re-reads the list, decoding only topics not seen before.
func (h *hotTopics) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := h.store.List(ctx)
	if err != nil {
		h.log.Warn("hot topics not read", zap.Error(err))
		return
	}
	h.mu.RLock()
	have := make(map[string]*media.Clip, len(h.topics))
	for _, x := range h.topics {
		have[x.t.ID] = x.clip
	}
	h.mu.RUnlock()
	next := make([]hotTopic, 0, len(list))
	for _, t := range list {
		clip := have[t.ID]
		if clip == nil {
			wav, err := h.store.Audio(ctx, t.ID)
			if err != nil {
				if !errors.Is(err, hottopic.ErrNotFound) {
					h.log.Warn("hot topic's audio not read", zap.String("id", t.ID), zap.Error(err))
				}
				continue
			}
			pcm, err := media.ReadWAV(bytes.NewReader(wav))
			if err != nil {
				h.log.Warn("hot topic's audio unusable", zap.String("id", t.ID), zap.Error(err))
				continue
			}
			clip = media.NewClip("hot-"+t.ID, pcm)
			h.log.Info("hot topic loaded", zap.String("id", t.ID), zap.String("line", t.Line),
				zap.Duration("length", clip.Duration()))
		}
		next = append(next, hotTopic{t: t, clip: clip})
	}
	h.mu.Lock()
	h.topics = next
	h.mu.Unlock()
}

// forLine returns the clips callers of line hear: the topics published for
// it, then those for every line, oldest first.
func (h *hotTopics) forLine(line string) []*media.Clip {
	if h == nil {
		return nil
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	var own, all []*media.Clip
	for _, x := range h.topics {
		switch x.t.Line {
		case line:
			own = append(own, x.clip)
		case "*":
			all = append(all, x.clip)
		}
	}
	return append(own, all...)
}

// afterWelcome runs between the welcome prompt and the menu: the recording
// notice where the line records, then the hot-topic answers with "press 1 if
// this answered your question, 0 for an agent". It reports false when the
// call is over (the caller hung up, or pressed 1: resolved by the IVR).
func (c *call) afterWelcome() bool {
	s := c.s
	if s.cfg.Recording.records(c.line.Number) {
		if _, ok := c.play(false, s.prompts.get(s.cfg.Recording.Notice)); !ok {
			return false
		}
	}
	clips := s.hot.forLine(c.line.Number)
	if len(clips) == 0 {
		return true
	}
	s.metrics.ivr.hotTopicHeard.Inc()
	for len(c.digits) > 0 { // a key pressed during the welcome is not the answer
		<-c.digits
	}
	d, ok := c.play(true, append(clips, s.prompts.get(s.cfg.HotTopics.Prompt))...)
	if !ok {
		return false
	}
	if d == 0 {
		t := time.NewTimer(s.cfg.HotTopics.Timeout)
		select {
		case d = <-c.digits:
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return false
		}
		t.Stop()
	}
	if d != '1' {
		c.log.Info("hot topic heard; to an agent", zap.String("key", string(d)))
		return true
	}
	in := c.intake(c.line.Queue, "来电："+c.line.Name+"（热点答复）")
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	r, err := s.q.ResolveCallByIVR(ctx, in, queue.Call{ID: c.id, Node: s.q.NodeID()})
	cancel()
	if err != nil {
		// Rather an agent than a caller lost.
		c.log.Warn("resolution by the IVR not recorded; to an agent", zap.Error(err))
		return true
	}
	s.metrics.ivr.ivrResolved.Inc()
	c.setContact(r.TrackingNo) // its recording, where the line records, is kept with it
	c.log.Info("hot topic answered the caller's question")
	c.play(false, s.prompts.get("goodbye"))
	c.cancel(errors.New(byIVR))
	return false
}
