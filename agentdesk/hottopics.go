package agentdesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lianxin/lianxin/hottopic"
	"go.uber.org/zap"
)

// Hot-topic answers (surge mode): supervisors publish and withdraw them
// from the desk (hot_topic_publish, hot_topic_withdraw); every supervisor's
// desk, on every node, gets the list (hot_topics) on connect and after
// every change. See PROTOCOL.md.

type hotTopicsMsg struct {
	Type   string           `json:"type"` // "hot_topics"
	Topics []hottopic.Topic `json:"topics"`
}

// hotTopicCode maps a hot-topic error to the protocol's error codes, or "".
func hotTopicCode(err error) string {
	switch {
	case errors.Is(err, hottopic.ErrInvalid):
		return "bad_message"
	case errors.Is(err, hottopic.ErrNoTTS):
		return "tts_unavailable"
	case errors.Is(err, hottopic.ErrNotFound), errors.Is(err, errNoGroup):
		return "not_found"
	case errors.Is(err, errNotSupervisor):
		return "forbidden"
	case errors.Is(err, errNoHotTopics):
		return "no_hot_topics"
	}
	return ""
}

var (
	errNotSupervisor = errors.New("只有班长（supervisor）可以发布或撤回热点答复")
	errNoHotTopics   = errors.New("本节点未启用热点答复（hot topics are not configured on this node）")
)

// hotTopic does a hot_topic_publish or hot_topic_withdraw from a desk.
func (d *desk) hotTopic(ctx context.Context, m inbound) error {
	return d.s.hotTopic(ctx, d.agent, m)
}

// hotTopic does a hot_topic_publish or hot_topic_withdraw for agent, from a
// desk or a wallboard.
func (s *Server) hotTopic(ctx context.Context, agent Agent, m inbound) error {
	if !agent.Supervisor {
		return errNotSupervisor
	}
	if s.hot == nil {
		return errNoHotTopics
	}
	log := s.log.With(zap.String("agent", agent.ID))
	if m.Type == "hot_topic_withdraw" {
		err := s.hot.Withdraw(ctx, m.ID)
		if err == nil {
			log.Info("hot topic withdrawn", zap.String("id", m.ID))
		}
		return err
	}
	line, text := m.Line, m.Text
	if m.Group != "" {
		var err error
		if line, text, err = s.groupAnswer(ctx, m.Group, line, text); err != nil {
			return err
		}
	}
	// Speech synthesis takes a second or two; it is bounded.
	tctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	t, err := s.hot.Publish(tctx, line, text, agent.ID)
	if err == nil {
		log.Info("hot topic published", zap.String("id", t.ID), zap.String("line", t.Line), zap.String("group", m.Group))
	}
	return err
}

// Group is a common problem as a hot-topic answer is made of it.
type Group struct {
	ID    string
	Label string
	// Lines its contacts came in on.
	Lines []string
}

// errNoGroup is a group id that the groups last published do not have.
var errNoGroup = errors.New("没有这个共性问题")

// validGroupID: c and digits, as package clusters names its groups.
func validGroupID(id string) bool {
	if len(id) < 2 || len(id) > 24 || id[0] != 'c' {
		return false
	}
	for _, c := range id[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// GroupAnswer is the hot-topic answer made of a common problem when the
// supervisor gives no text of their own.
func GroupAnswer(label string) string {
	return "您好，关于" + strings.Join(strings.Fields(label), "") + "的问题，有关部门已经知晓，正在处理，请耐心等待，感谢您的反映。"
}

// groupAnswer fills a group's hot-topic answer: line, if not given, is the
// one line its contacts came in on (a number), else every line; text, if
// not given, GroupAnswer of its label.
func (s *Server) groupAnswer(ctx context.Context, id, line, text string) (string, string, error) {
	if s.groups == nil {
		return "", "", fmt.Errorf("%w：%s（本节点不归类共性问题）", errNoGroup, id)
	}
	g, ok, err := s.groups(ctx, id)
	if err != nil {
		return "", "", err
	}
	if !ok {
		return "", "", fmt.Errorf("%w：%s（共性问题每 10 秒重新归类，它可能已并入其他类别或已过期，请刷新后再选）", errNoGroup, id)
	}
	if line == "" {
		line = "*"
		if len(g.Lines) == 1 && hottopic.Check(g.Lines[0], "-") == nil {
			line = g.Lines[0]
		}
	}
	if strings.TrimSpace(text) == "" {
		text = GroupAnswer(g.Label)
	}
	return line, text, nil
}

// groupHotTopic turns a common problem into a hot-topic answer: POST
// /api/clusters/{id}/hot-topic, optional JSON body {"line", "text"} (the
// defaults of groupAnswer), supervisors only; 201 with the topic.
func (s *Server) groupHotTopic(w http.ResponseWriter, r *http.Request) {
	who, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if !s.agents[who].Supervisor {
		WriteError(w, http.StatusForbidden, "forbidden", errNotSupervisor.Error())
		return
	}
	if s.hot == nil {
		WriteError(w, http.StatusNotFound, "not_found", "hot topics are not configured on this node")
		return
	}
	id := r.PathValue("id")
	if !validGroupID(id) {
		WriteError(w, http.StatusNotFound, "not_found", fmt.Sprintf("%s：%q 不是共性问题的编号（如 c17，见 /api/clusters）", errNoGroup, id))
		return
	}
	var body struct {
		Line string `json:"line"`
		Text string `json:"text"`
	}
	if r.ContentLength != 0 {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
		if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			WriteError(w, http.StatusBadRequest, "bad_message", "body: a JSON object with optional line and text: "+err.Error())
			return
		}
	}
	line, text, err := s.groupAnswer(r.Context(), id, body.Line, body.Text)
	if err == nil {
		err = hottopic.Check(line, text)
	}
	var t hottopic.Topic
	if err == nil {
		tctx, cancel := context.WithTimeout(r.Context(), 90*time.Second)
		t, err = s.hot.Publish(tctx, line, text, who)
		cancel()
	}
	switch {
	case errors.Is(err, errNoGroup):
		WriteError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, hottopic.ErrInvalid):
		WriteError(w, http.StatusBadRequest, "bad_message", err.Error())
	case errors.Is(err, hottopic.ErrNoTTS):
		WriteError(w, http.StatusServiceUnavailable, "tts_unavailable", err.Error())
	case err != nil:
		s.log.Warn("hot topic of a group not published", zap.String("group", id), zap.Error(err))
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "cannot publish now, try again")
	default:
		s.log.Info("hot topic published from a common problem", zap.String("id", t.ID), zap.String("group", id),
			zap.String("line", t.Line), zap.String("by", who))
		WriteJSON(w, http.StatusCreated, t)
	}
}

// sendHotTopics sends the list to one supervisor's desk.
func (d *desk) sendHotTopics(ctx context.Context) {
	if !d.agent.Supervisor || d.s.hot == nil {
		return
	}
	ts, err := d.s.hot.List(ctx)
	if err != nil {
		d.log.Warn("hot topics not read", zap.Error(err))
		return
	}
	d.send(outbound{msg: hotTopicsMsg{Type: "hot_topics", Topics: nonNilTopics(ts)}})
}

// sendHotTopics sends the list to one wallboard.
func (w *wallConn) sendHotTopics(ctx context.Context) {
	if w.s.hot == nil {
		return
	}
	ts, err := w.s.hot.List(ctx)
	if err != nil {
		w.s.log.Warn("hot topics not read", zap.Error(err))
		return
	}
	w.sendMsg(hotTopicsMsg{Type: "hot_topics", Topics: nonNilTopics(ts)})
}

func nonNilTopics(ts []hottopic.Topic) []hottopic.Topic {
	if ts == nil {
		return []hottopic.Topic{}
	}
	return ts
}

// watchHotTopics sends the list to every supervisor's desk on this node
// after each change, from any node.
func (s *Server) watchHotTopics(ctx context.Context) error {
	if s.hot == nil {
		return nil
	}
	for ctx.Err() == nil {
		err := s.hot.Watch(ctx, func() {
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			ts, err := s.hot.List(lctx)
			if err != nil {
				s.log.Warn("hot topics not read", zap.Error(err))
				return
			}
			s.ToSupervisors(hotTopicsMsg{Type: "hot_topics", Topics: nonNilTopics(ts)})
		})
		if err != nil && ctx.Err() == nil {
			s.log.Warn("hot-topic notices lost; subscribing again", zap.Error(err))
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

// maxHotTopicWAV bounds an uploaded hot-topic recording (about 8 minutes
// of 8 kHz 16-bit mono).
const maxHotTopicWAV = 8 << 20

// uploadHotTopic publishes a hot-topic answer with a recorded WAV instead of
// synthetic speech (POST /api/hot-topics, multipart form: line, text, audio;
// supervisors only, token in the Authorization header).
func (s *Server) uploadHotTopic(w http.ResponseWriter, r *http.Request) {
	id, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if !s.agents[id].Supervisor {
		WriteError(w, http.StatusForbidden, "forbidden", errNotSupervisor.Error())
		return
	}
	if s.hot == nil {
		WriteError(w, http.StatusNotFound, "not_found", "hot topics are not configured on this node")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxHotTopicWAV+64<<10)
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		WriteError(w, http.StatusBadRequest, "bad_form", "a multipart form with line, text and audio (a WAV, at most 8 MiB): "+err.Error())
		return
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	f, _, err := r.FormFile("audio")
	if err != nil {
		WriteError(w, http.StatusBadRequest, "bad_form", "audio: the recording (a WAV file) is missing")
		return
	}
	defer f.Close()
	wav, err := io.ReadAll(io.LimitReader(f, maxHotTopicWAV+1))
	if err != nil || len(wav) > maxHotTopicWAV {
		WriteError(w, http.StatusBadRequest, "bad_form", "audio: at most 8 MiB")
		return
	}
	t, err := s.hot.PublishWAV(r.Context(), r.FormValue("line"), r.FormValue("text"), id, wav)
	switch {
	case errors.Is(err, hottopic.ErrInvalid):
		WriteError(w, http.StatusBadRequest, "bad_message", err.Error())
		return
	case err != nil:
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "cannot publish now, try again")
		return
	}
	s.log.Info("hot topic published with a recording", zap.String("id", t.ID), zap.String("line", t.Line), zap.String("by", id))
	WriteJSON(w, http.StatusCreated, t)
}
