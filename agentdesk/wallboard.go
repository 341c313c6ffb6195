package agentdesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lianxin/lianxin/queue"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// wallProtocol is the subprotocol of the supervisors' wallboard socket.
const wallProtocol = "lianxin.wallboard"

var wallUpgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 16384,
	Subprotocols:    []string{wallProtocol},
	// serveWallboard checks the origin itself, before upgrading.
	CheckOrigin: func(*http.Request) bool { return true },
}

// The wallboard is pushed as soon as the board changes, then not again for
// a while (under load, one push carries many events); and every wallIdle
// anyway, so oldest waits stay current. The pause is wallCost times what
// the last push took to build, between wallPush and wallPushMax: the
// wallboards take a few percent of a core at most, whatever the number of
// agents and however busy the node, and still show a change within a
// second.
const (
	wallPush    = 250 * time.Millisecond
	wallPushMax = time.Second
	wallCost    = 30
	wallIdle    = 2 * time.Second
)

// wallConn is one supervisor's wallboard socket on this node.
type wallConn struct {
	s     *Server
	agent Agent
	conn  *websocket.Conn
	// tok is the wallboard's login token; a renewal replaces it.
	tokmu sync.Mutex
	tok   string
	out   chan []byte
	done  chan struct{}
	once  sync.Once
	// code and why close the connection (set before done is closed; the
	// default: 1013, reconnect).
	code int
	why  string
}

func (w *wallConn) send(b []byte) {
	select {
	case <-w.done:
	case w.out <- b:
	default:
		w.close() // too slow: it reconnects and gets everything again
	}
}

func (w *wallConn) sendMsg(m any) {
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	w.send(b)
}

func (w *wallConn) close() { w.end(closeTryAgain, "reconnect") }

// end closes the connection with code and why.
func (w *wallConn) end(code int, why string) {
	w.once.Do(func() {
		w.code, w.why = code, why
		close(w.done)
	})
}

// loggedIn says whether the wallboard's login still holds (its token is
// neither revoked nor run out); when it does not, the wallboard is closed
// with 4002. Redis out of reach counts as logged in: the next look decides.
func (w *wallConn) loggedIn(ctx context.Context) bool {
	w.tokmu.Lock()
	tok := w.tok
	w.tokmu.Unlock()
	if w.s.tokens.gone(ctx, tok) {
		w.end(CloseLoggedOut, "token expired: log in again")
		return false
	}
	return true
}

// watchToken closes the wallboard once its login ends (a logout, a token run
// out), looking as often as the connection is pinged: the wallboard's
// supervisor powers (listening in, logging agents out) last no longer than
// the login.
func (w *wallConn) watchToken() {
	t := time.NewTicker(w.s.ping)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
			if !w.loggedIn(context.Background()) {
				return
			}
		}
	}
}

// serveWallboard is GET /wallboard/ws: supervisors only, the desk's token
// (header, or the "bearer.<token>" subprotocol beside "lianxin.wallboard")
// and the desk's Origin check. It does not seat the supervisor as an agent,
// so the wallboard and the supervisor's own desk live side by side.
func (s *Server) serveWallboard(w http.ResponseWriter, r *http.Request) {
	tok := wsToken(r)
	id, ok := s.authenticateToken(w, r, tok)
	if !ok {
		return
	}
	if !s.agents[id].Supervisor {
		WriteError(w, http.StatusForbidden, "forbidden", "the wallboard is for supervisors only")
		return
	}
	if !s.sameSiteUpgrade(w, r, "wallboard", id) {
		return
	}
	conn, err := wallUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	wc := &wallConn{s: s, agent: s.agents[id], tok: tok, conn: conn, out: make(chan []byte, 64), done: make(chan struct{})}
	s.mu.Lock()
	s.walls[wc] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.walls, wc)
		s.mu.Unlock()
		wc.close()
	}()
	go wc.writeLoop()
	go wc.watchToken()
	wc.sendMsg(helloMsg{Type: "hello", Agent: infoOf(wc.agent), Node: s.q.NodeID(), ServerTime: time.Now().UTC(),
		Channels: queue.Channels})
	wc.sendMsg(s.board.snapshot(time.Now()))
	s.sendAlerts(r.Context(), wc)
	wc.sendHotTopics(r.Context())
	ctx := context.WithoutCancel(r.Context())
	conn.SetReadLimit(16 << 10)
	_ = conn.SetReadDeadline(time.Now().Add(3 * s.ping))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(3 * s.ping)) })
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		_ = conn.SetReadDeadline(time.Now().Add(3 * s.ping))
		m, perr := decodeInbound(data)
		if perr != nil {
			wc.sendMsg(errorMsg{Type: "error", Code: perr.code, Message: perr.msg, Ref: m.Ref})
			continue
		}
		if m.Type == "ping" {
			wc.sendMsg(pongMsg{Type: "pong", Ref: m.Ref})
			continue
		}
		if m.Type == "renew" {
			wc.renew(ctx, m)
			continue
		}
		if !wc.loggedIn(ctx) {
			return // a supervisor's action only while the login holds
		}
		switch m.Type {
		case "force_not_ready", "force_logout", "reassign", "alert_ack":
			if code, msg := s.supervise(ctx, wc.agent, m); code != "" {
				wc.sendMsg(errorMsg{Type: "error", Code: code, Message: msg, Ref: m.Ref})
			} else {
				wc.sendMsg(ackMsg{Type: "ack", Ref: m.Ref, For: m.Type})
			}
		case "monitor", "monitor_stop":
			if err := s.monitor(ctx, wc.agent, m, wc.sendMsg); err != nil {
				code := phoneCode(err)
				if code == "" {
					code = "unavailable"
				}
				wc.sendMsg(errorMsg{Type: "error", Code: code, Message: err.Error(), Ref: m.Ref})
			} else {
				wc.sendMsg(ackMsg{Type: "ack", Ref: m.Ref, For: m.Type})
			}
		case "hot_topic_publish", "hot_topic_withdraw":
			if err := s.hotTopic(ctx, wc.agent, m); err != nil {
				code := hotTopicCode(err)
				if code == "" {
					code = "unavailable"
				}
				wc.sendMsg(errorMsg{Type: "error", Code: code, Message: err.Error(), Ref: m.Ref})
			} else {
				wc.sendMsg(ackMsg{Type: "ack", Ref: m.Ref, For: m.Type})
			}
		default:
			wc.sendMsg(errorMsg{Type: "error", Code: "unknown_type", Message: "the wallboard does not take " + strconvQuote(m.Type), Ref: m.Ref})
		}
	}
}

// renew moves the wallboard to a new login of its supervisor, which the
// desk's page renewed (its page tells this one).
func (w *wallConn) renew(ctx context.Context, m inbound) {
	until, err := w.s.tokens.renewal(ctx, w.agent.ID, m.Token)
	switch {
	case errors.Is(err, errNotThisLogin):
		w.sendMsg(errorMsg{Type: "error", Code: "bad_token", Message: err.Error(), Ref: m.Ref})
	case err != nil:
		w.sendMsg(errorMsg{Type: "error", Code: "unavailable", Message: err.Error(), Ref: m.Ref})
	default:
		w.tokmu.Lock()
		w.tok = m.Token
		w.tokmu.Unlock()
		w.sendMsg(renewedMsg{Type: "renewed", Ref: m.Ref, ServerTime: time.Now().UTC(), LoginExpiresAt: until})
	}
}

func (w *wallConn) writeLoop() {
	defer w.conn.Close()
	ping := time.NewTicker(w.s.ping)
	defer ping.Stop()
	for {
		select {
		case <-w.done:
			_ = w.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(w.code, w.why),
				time.Now().Add(time.Second))
			return
		case <-ping.C:
			if err := w.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second)); err != nil {
				w.close()
				return
			}
		case b := <-w.out:
			_ = w.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := w.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				w.close()
				return
			}
		}
	}
}

// pushWallboards sends the board to this node's wallboards whenever it
// changed (at most every wallPush) and every wallIdle regardless; alerts are
// re-read from Redis every wallIdle, so one acknowledged on another node
// shows here too.
func (s *Server) pushWallboards(ctx context.Context) {
	idle := time.NewTicker(wallIdle)
	defer idle.Stop()
	var sent uint64
	var last, lastAlerts time.Time
	pause := wallPush
	for {
		select {
		case <-ctx.Done():
			return
		case <-idle.C:
		case <-s.board.changed:
			if wait := pause - time.Since(last); wait > 0 {
				sleepCtx(ctx, wait)
			}
		}
		s.mu.Lock()
		walls := make([]*wallConn, 0, len(s.walls))
		for w := range s.walls {
			walls = append(walls, w)
		}
		s.mu.Unlock()
		if len(walls) == 0 {
			continue
		}
		now := time.Now()
		if v := s.board.currentVersion(); v != sent || now.Sub(last) >= wallIdle/2 {
			sent, last = v, now
			b, err := json.Marshal(s.board.snapshot(now))
			pause = min(max(wallCost*time.Since(now), wallPush), wallPushMax)
			if err == nil {
				for _, w := range walls {
					w.send(b)
				}
			}
		}
		if now.Sub(lastAlerts) >= wallIdle/2 {
			lastAlerts = now
			s.broadcastAlerts(ctx, false)
		}
	}
}

// Alert is one alert in the supervisors' list: an emergency contact, or a
// cluster of common problems (kind "cluster"), kept until acknowledged.
type Alert struct {
	ID      string     `json:"id"` // the event's stream id
	Contact string     `json:"contact,omitempty"`
	Kind    string     `json:"kind"`
	Text    string     `json:"text"`
	At      time.Time  `json:"at"`
	AckBy   string     `json:"acked_by,omitempty"`
	AckName string     `json:"acked_by_name,omitempty"`
	AckAt   *time.Time `json:"acked_at,omitempty"`
}

type alertsMsg struct {
	Type   string  `json:"type"` // "alerts"
	Alerts []Alert `json:"alerts"`
}

// alertKeep is how long an acknowledged alert stays listed.
const alertKeep = 24 * time.Hour

func (s *Server) alertsKey() string { return s.ns + "alerts" }

// keepAlert persists an alert event. Every node does it for every alert
// (HSETNX: the first one wins, an acknowledgement is never overwritten), so
// the list survives any node and a replay puts back one that was lost.
func (s *Server) keepAlert(ev queue.Event) {
	a := Alert{ID: ev.ID, Contact: ev.TrackingNo, Kind: ev.Reason, Text: ev.Text, At: time.UnixMilli(eventTime(ev.ID)).UTC()}
	b, _ := json.Marshal(a)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.rdb.HSetNX(ctx, s.alertsKey(), ev.ID, b).Err(); err != nil {
		s.log.Warn("alert not persisted", zap.String("id", ev.ID), zap.Error(err))
	}
}

// alerts lists the alerts not acknowledged, and those acknowledged within
// alertKeep, newest first.
func (s *Server) alerts(ctx context.Context) ([]Alert, error) {
	m, err := s.rdb.HGetAll(ctx, s.alertsKey()).Result()
	if err != nil {
		return nil, err
	}
	out := make([]Alert, 0, len(m))
	var old []string
	for id, v := range m {
		var a Alert
		if json.Unmarshal([]byte(v), &a) != nil {
			continue
		}
		if a.AckAt != nil && time.Since(*a.AckAt) > alertKeep {
			old = append(old, id)
			continue
		}
		a.AckName = s.agents[a.AckBy].Name
		out = append(out, a)
	}
	if len(old) > 0 {
		_ = s.rdb.HDel(ctx, s.alertsKey(), old...).Err()
	}
	sort.Slice(out, func(i, j int) bool {
		return eventTime(out[i].ID) > eventTime(out[j].ID) || out[i].ID > out[j].ID && eventTime(out[i].ID) == eventTime(out[j].ID)
	})
	return out, nil
}

func (s *Server) sendAlerts(ctx context.Context, w *wallConn) {
	list, err := s.alerts(ctx)
	if err != nil {
		s.log.Warn("alerts unavailable", zap.Error(err))
		return
	}
	w.sendMsg(alertsMsg{Type: "alerts", Alerts: list})
}

// broadcastAlerts sends the alert list to this node's wallboards: always
// when force, else only when it changed since the last time.
func (s *Server) broadcastAlerts(ctx context.Context, force bool) {
	list, err := s.alerts(ctx)
	if err != nil {
		s.log.Warn("alerts unavailable", zap.Error(err))
		return
	}
	b, _ := json.Marshal(alertsMsg{Type: "alerts", Alerts: list})
	s.mu.Lock()
	same := string(b) == s.lastAlerts
	s.lastAlerts = string(b)
	walls := make([]*wallConn, 0, len(s.walls))
	for w := range s.walls {
		walls = append(walls, w)
	}
	s.mu.Unlock()
	if same && !force {
		return
	}
	for _, w := range walls {
		w.send(b)
	}
}

// supervise does a supervisor's message; it returns an error code and
// message, or "" when done. Supervisors only; nothing changes on an error.
func (s *Server) supervise(ctx context.Context, by Agent, m inbound) (code, msg string) {
	if !by.Supervisor {
		return "forbidden", m.Type + ": supervisors only"
	}
	switch m.Type {
	case "force_not_ready", "force_logout":
		if _, ok := s.agents[m.Agent]; !ok {
			return "not_found", "agent: no agent " + strconvQuote(m.Agent)
		}
		for try := 0; ; try++ {
			sess, _, err := s.q.Seat(ctx, m.Agent)
			if err != nil {
				return "unavailable", "cannot do this now, try again"
			}
			if sess == "" {
				return "wrong_state", "agent " + m.Agent + " is not logged in"
			}
			if m.Type == "force_not_ready" {
				err = s.q.SetPresence(ctx, m.Agent, sess, queue.PresenceNotReady, m.Reason)
			} else {
				s.forced(m.Agent, sess)
				err = s.q.Logout(ctx, m.Agent, sess)
			}
			if errors.Is(err, queue.ErrStale) && try < 2 {
				continue // the desk reconnected meanwhile: act on its new session
			}
			if err != nil {
				return errorCode(err), err.Error()
			}
			s.log.Info("supervisor action", zap.String("by", by.ID), zap.String("action", m.Type), zap.String("agent", m.Agent))
			return "", ""
		}
	case "reassign":
		from, err := s.q.Reassign(ctx, m.Contact)
		if err != nil {
			return errorCode(err), err.Error()
		}
		s.log.Info("contact reassigned", zap.String("by", by.ID), zap.String("contact", m.Contact), zap.String("from", from))
		return "", ""
	case "alert_ack":
		if err := s.ackAlert(ctx, by, m.ID); err != nil {
			if errors.Is(err, queue.ErrNotFound) {
				return "not_found", "id: no alert " + strconvQuote(m.ID)
			}
			return "unavailable", "cannot do this now, try again"
		}
		s.broadcastAlerts(ctx, true)
		return "", ""
	}
	return "unknown_type", "unknown message type " + strconvQuote(m.Type)
}

// ackAlert marks alert id acknowledged by a supervisor; acknowledging one
// already acknowledged keeps the first acknowledgement.
func (s *Server) ackAlert(ctx context.Context, by Agent, id string) error {
	key := s.alertsKey()
	return s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		v, err := tx.HGet(ctx, key, id).Result()
		if errors.Is(err, redis.Nil) {
			return fmt.Errorf("%w: alert %s", queue.ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		var a Alert
		if err := json.Unmarshal([]byte(v), &a); err != nil {
			return err
		}
		if a.AckAt != nil {
			return nil
		}
		now := time.Now().UTC()
		a.AckBy, a.AckAt = by.ID, &now
		b, _ := json.Marshal(a)
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, id, b)
			return nil
		})
		return err
	}, key)
}

// forced notes that agent's session sess is being logged out by a
// supervisor, so its desk (on any node: the event stream says so) is closed
// and its token revoked, instead of the desk reconnecting and seating the
// agent again.
func (s *Server) forced(agent, sess string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.rdb.Set(ctx, s.ns+"forced:"+sess, agent, time.Minute).Err()
}

// wasForced reports whether session sess was logged out by a supervisor.
func (s *Server) wasForced(sess string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := s.rdb.Exists(ctx, s.ns+"forced:"+sess).Result()
	return err == nil && n > 0
}

// ToSupervisors sends msg (a JSON object of the protocol, e.g. the hot
// topics' list) to every supervisors' desk and wallboard on this node.
func (s *Server) ToSupervisors(msg any) {
	b, err := json.Marshal(msg)
	if err != nil {
		return
	}
	s.mu.Lock()
	var desks []*desk
	for _, d := range s.desks {
		if d.agent.Supervisor {
			desks = append(desks, d)
		}
	}
	walls := make([]*wallConn, 0, len(s.walls))
	for w := range s.walls {
		walls = append(walls, w)
	}
	s.mu.Unlock()
	for _, d := range desks {
		d.send(outbound{msg: json.RawMessage(b)})
	}
	for _, w := range walls {
		w.send(b)
	}
}
