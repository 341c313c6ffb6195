package agentdesk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/lianxin/lianxin/channels"
	"github.com/lianxin/lianxin/queue"
	"go.uber.org/zap"
)

// desk is one connected agent desk on this node.
type desk struct {
	s     *Server
	agent Agent
	sess  string
	conn  *websocket.Conn
	log   *zap.Logger

	// tokmu makes a look at the login (checkToken) and its renewal (renew)
	// one after the other, so a renewal is never undone by a look at the
	// token it replaced.
	tokmu sync.Mutex

	// out holds what to send, in order; prepareLoop completes offers and
	// assignments (Redis reads) and hands everything on to wire, in
	// batches of what was ready together, which writeLoop writes between
	// its pings, a batch in one write to the connection (cc).
	out       chan outbound
	wire      chan []outbound
	cc        *corkConn
	done      chan struct{}
	closeOnce sync.Once

	// evmu orders the queue's events for this desk. Until the desk is
	// seated (greeted), events are kept in early and replayed after the
	// greeting, so nothing that happens while it connects is lost.
	evmu   sync.Mutex
	seated bool
	early  []queue.Event

	mu      sync.Mutex
	offered map[string]time.Time // offers sent, by tracking number, with their deadline
	// history sent with each open offer, reused when it is accepted.
	history map[string][]queue.Summary
	// channels of the contacts offered to or held at this desk, until
	// wrapped up, rescinded or closed: given to AfterWrapUp.
	channels map[string]queue.Channel
	// unseat says whether the desk going away should unseat the agent in
	// Redis; not when a newer desk replaced it or the node is draining.
	unseat bool
	// browserPhone: the agent chose the browser as their phone at this desk.
	browserPhone bool
	// out: the desk itself is logging out.
	selfOut bool
	// tok is the desk's login token; a renewal replaces it.
	tok string
	// ending: the login is running out; the agent finishes what it has and
	// takes nothing new (see watchToken). resume is the presence the
	// wind-down took from the agent, given back if the login is renewed.
	ending bool
	resume *queue.AgentStatus
}

// token is the desk's login token.
func (d *desk) token() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tok
}

func (d *desk) loggingOut() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.selfOut
}

// outbound is one thing to write to the desk. Offers and assignments are
// completed (with the citizen's history) by the writer, off the event loop.
type outbound struct {
	msg      any
	offer    *queue.Contact
	assigned *queue.Contact
	deadline time.Time
	close    int
	reason   string
}

// deskProtocol is the websocket subprotocol the desk speaks. A browser,
// which cannot set an Authorization header on a websocket, offers it
// together with "bearer.<token>" (see PROTOCOL.md), so the token never
// appears in a URL.
const deskProtocol = "lianxin.desk"

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	Subprotocols:    []string{deskProtocol},
	// serveWS checks the origin itself, before anything changes.
	CheckOrigin: func(*http.Request) bool { return true },
}

// sameOrigin refuses websockets opened by pages of other sites: an Origin,
// when the browser sends one, must name this server's scheme and host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true // not a browser
	}
	u, err := url.Parse(o)
	if err != nil || !strings.EqualFold(u.Host, r.Host) {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = strings.ToLower(strings.TrimSpace(strings.Split(p, ",")[0]))
	}
	return strings.EqualFold(u.Scheme, scheme)
}

// sameSiteUpgrade answers for the desk's and the wallboard's sockets (what,
// for the log) a request that is not a websocket upgrade (400) or comes from
// a page of another site (403), and says whether the socket may be opened.
func (s *Server) sameSiteUpgrade(w http.ResponseWriter, r *http.Request, what, agent string) bool {
	if !websocket.IsWebSocketUpgrade(r) {
		WriteError(w, http.StatusBadRequest, "not_websocket", "this endpoint speaks websocket only (token is valid)")
		return false
	}
	if !sameOrigin(r) {
		s.log.Warn(what+" refused: foreign origin", zap.String("agent", agent), zap.String("origin", r.Header.Get("Origin")))
		WriteError(w, http.StatusForbidden, "bad_origin", "origin "+strconvQuote(r.Header.Get("Origin"))+" is not this desk's site")
		return false
	}
	return true
}

func (s *Server) desk(agent string) *desk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.desks[agent]
}

// enroll makes d the agent's desk on this node before the agent is seated in
// Redis, so an offer made the moment it is seated finds the desk. It returns
// the desk d replaces, or false when the node is draining.
func (s *Server) enroll(d *desk) (old *desk, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return nil, false
	}
	old = s.desks[d.agent.ID]
	s.desks[d.agent.ID] = d
	s.wg.Add(1)
	return old, true
}

// withdraw undoes enroll when the desk could not be seated: the old desk,
// still seated, gets back its place and the events it missed meanwhile.
func (s *Server) withdraw(d, old *desk) {
	s.mu.Lock()
	if s.desks[d.agent.ID] == d {
		delete(s.desks, d.agent.ID)
		if old != nil {
			s.desks[d.agent.ID] = old
		}
	}
	s.mu.Unlock()
	d.evmu.Lock()
	early := d.early
	d.early, d.seated = nil, true
	d.evmu.Unlock()
	if old != nil {
		for _, ev := range early {
			s.deliverTo(old, ev)
		}
	}
	s.wg.Done()
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	tok := wsToken(r)
	id, ok := s.authenticateToken(w, r, tok)
	if !ok {
		return
	}
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	if draining {
		w.Header().Set("Retry-After", "1")
		WriteError(w, http.StatusServiceUnavailable, "draining", "this node is shutting down; connect to another")
		return
	}
	// Before anything changes: a page of another site must not seat (and so
	// take over) the agent's desk, even with a valid token.
	if !s.sameSiteUpgrade(w, r, "desk", id) {
		return
	}
	a := s.agents[id]
	ctx := context.WithoutCancel(r.Context())
	d := &desk{s: s, agent: a, tok: tok, log: s.log.With(zap.String("agent", id)),
		out: make(chan outbound, 256), wire: make(chan []outbound), done: make(chan struct{}), offered: map[string]time.Time{},
		history: map[string][]queue.Summary{}, channels: map[string]queue.Channel{}, unseat: true}
	// The desk is enrolled on this node before the agent is seated in
	// Redis, so an offer made the moment it is seated finds it.
	old, ok := s.enroll(d)
	if !ok {
		w.Header().Set("Retry-After", "1")
		WriteError(w, http.StatusServiceUnavailable, "draining", "this node is shutting down; connect to another")
		return
	}
	sess, err := s.q.Connect(ctx, a.Profile)
	if err != nil {
		s.withdraw(d, old)
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "cannot seat the desk now, try again")
		s.log.Warn("connect failed", zap.String("agent", id), zap.Error(err))
		return
	}
	if s.afterConnect != nil {
		s.afterConnect()
	}
	d.sess = sess.ID
	cw := &corkWriter{ResponseWriter: w}
	conn, err := upgrader.Upgrade(cw, r, nil)
	if err != nil {
		s.withdraw(d, nil)
		_ = s.q.Disconnect(ctx, id, sess.ID)
		return // the upgrader has answered
	}
	d.conn, d.cc = conn, cw.conn
	if old != nil {
		old.shut(CloseReplaced, "replaced by a newer desk", false)
	}
	d.log.Info("desk connected", zap.String("session", sess.ID))
	go d.writeLoop()
	go d.prepareLoop()
	go d.watchToken()
	d.greet(ctx, sess)
	d.readLoop(ctx)
	d.shut(websocket.CloseNormalClosure, "", true)
	<-d.done
	d.closePhone(true)
	s.mu.Lock()
	if s.desks[id] == d {
		delete(s.desks, id)
	}
	s.mu.Unlock()
	d.mu.Lock()
	unseat := d.unseat
	d.mu.Unlock()
	if unseat {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := s.q.Disconnect(dctx, id, sess.ID); err != nil {
			d.log.Warn("disconnect failed", zap.Error(err))
		}
		cancel()
	}
	d.log.Info("desk gone")
	s.wg.Done()
}

// greet sends hello, the state, then everything the agent holds and every
// offer still open, so a reconnecting desk has it all again; then the
// events that came while the desk was being seated.
func (d *desk) greet(ctx context.Context, sess *queue.Session) {
	d.evmu.Lock()
	defer d.evmu.Unlock()
	hello := helloMsg{Type: "hello", Agent: infoOf(d.agent), Node: d.s.q.NodeID(), ServerTime: time.Now().UTC(),
		Channels: queue.Channels}
	if at, err := d.s.tokens.until(ctx, d.token()); err == nil && !at.IsZero() {
		hello.LoginExpiresAt = &at
		hello.RenewWarning = int(d.s.renewWarning.Seconds())
	}
	d.send(outbound{msg: hello})
	// The state is read while events wait on evmu, so any state change
	// after it is delivered after it.
	if st, err := d.s.q.Status(ctx, d.agent.ID); err == nil {
		d.send(outbound{msg: stateMsg{Type: "state", AgentStatus: *st}})
	}
	for _, c := range sess.Held {
		d.s.remember(ctx, d.agent.ID, c.TrackingNo)
		d.send(outbound{assigned: c})
	}
	for _, c := range sess.Offers {
		deadline := time.Now().Add(d.s.q.OfferTimeout())
		if c.OfferedAt != nil {
			deadline = c.OfferedAt.Add(d.s.q.OfferTimeout())
		}
		d.sendOffer(c, deadline)
	}
	d.sendHotTopics(ctx)
	early := d.early
	d.early, d.seated = nil, true
	for _, ev := range early {
		if ev.Type == queue.EventOffered && d.isOffered(ev.TrackingNo) {
			continue // the session had it already
		}
		ev.Status = nil // older than the state just sent
		d.s.deliver(d, ev)
	}
}

func (d *desk) isOffered(tn string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.offered[tn]
	return ok
}

// send queues a message; a desk that cannot keep up is dropped (it will
// reconnect and get everything again).
func (d *desk) send(o outbound) {
	select {
	case <-d.done:
	case d.out <- o:
	default:
		d.log.Warn("desk too slow, dropping it")
		d.shut(closeTryAgain, "too slow", true)
	}
}

func (d *desk) sendOffer(c *queue.Contact, deadline time.Time) {
	d.mu.Lock()
	if prev, ok := d.offered[c.TrackingNo]; ok && prev.Equal(deadline) {
		d.mu.Unlock()
		return
	}
	d.offered[c.TrackingNo] = deadline
	d.mu.Unlock()
	d.send(outbound{offer: c, deadline: deadline})
}

// forget drops what was kept for an offer once it is accepted or gone.
func (d *desk) forget(tn string, accepted bool) {
	d.mu.Lock()
	delete(d.offered, tn)
	if !accepted {
		delete(d.history, tn)
		delete(d.channels, tn)
	}
	d.mu.Unlock()
}

// wrappedUp forgets contact tn's channel and returns it ("" if unknown).
func (d *desk) wrappedUp(tn string) queue.Channel {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch := d.channels[tn]
	delete(d.channels, tn)
	return ch
}

// shut closes the desk once, with a close code for the desk to act on.
func (d *desk) shut(code int, reason string, unseat bool) {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.unseat = unseat
		d.mu.Unlock()
		select {
		case d.out <- outbound{close: code, reason: reason}:
		default:
			if d.conn != nil {
				_ = d.conn.Close()
			}
		}
	})
}

// prepareLoop takes what is queued for the desk, in order, and completes
// offers and assignments with what they need from Redis (the citizen's
// history, the conversation) before handing them to the writer: a slow Redis
// delays those messages (and what follows them) but never the writer's
// pings, so the desk is not dropped for it. What is queued behind a message
// and needs no Redis read (the state that comes with an offer) goes to the
// writer with it, to leave in the same write.
func (d *desk) prepareLoop() {
	var next *outbound // taken from out, to lead the next batch
	for {
		var o outbound
		if next != nil {
			o, next = *next, nil
		} else {
			select {
			case <-d.done:
				return
			case o = <-d.out:
			}
		}
		batch := []outbound{d.prepare(o)}
	more:
		for o.close == 0 {
			select {
			case m := <-d.out:
				if m.offer != nil || m.assigned != nil {
					next = &m
					break more
				}
				batch = append(batch, d.prepare(m))
				o = m
			default:
				break more
			}
		}
		select {
		case <-d.done:
			return
		case d.wire <- batch:
		}
	}
}

// prepare completes o for the writer.
func (d *desk) prepare(o outbound) outbound {
	if o.close != 0 {
		return o
	}
	return outbound{msg: d.complete(o)}
}

func (d *desk) writeLoop() {
	defer close(d.done)
	defer d.conn.Close()
	ping := time.NewTicker(d.s.ping)
	defer ping.Stop()
	for {
		select {
		case <-ping.C:
			if err := d.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second)); err != nil {
				return
			}
		case batch := <-d.wire:
			if !d.write(batch) {
				return
			}
		}
	}
}

// write writes a batch, in one write to the connection when it can; it
// reports whether the desk goes on.
func (d *desk) write(batch []outbound) bool {
	if d.cc != nil && len(batch) > 1 {
		d.cc.cork()
	}
	for _, o := range batch {
		if o.close != 0 {
			if d.cc != nil {
				_ = d.cc.uncork()
			}
			msg := websocket.FormatCloseMessage(o.close, o.reason)
			_ = d.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second))
			return false
		}
		_ = d.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := d.conn.WriteJSON(o.msg); err != nil {
			return false
		}
	}
	return d.cc == nil || d.cc.uncork() == nil
}

// complete turns an offer or assignment into its message, with the citizen's
// earlier contacts. It runs on prepareLoop, never on the writer.
func (d *desk) complete(o outbound) any {
	c := o.offer
	if c == nil {
		c = o.assigned
	}
	if c == nil {
		return o.msg
	}
	if d.s.beforeDeskRead != nil {
		d.s.beforeDeskRead(c.TrackingNo)
	}
	d.mu.Lock()
	hist, ok := d.history[c.TrackingNo]
	if o.assigned != nil {
		delete(d.history, c.TrackingNo)
	}
	d.channels[c.TrackingNo] = c.Channel
	d.mu.Unlock()
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var err error
		if hist, err = d.s.q.History(ctx, c, 10); err != nil {
			d.log.Warn("history unavailable", zap.Error(err))
		}
		if hist == nil {
			hist = []queue.Summary{}
		}
	}
	dc := deskContact{Contact: c, History: hist}
	if c.MessageCount > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		msgs, err := d.s.q.Messages(ctx, c.TrackingNo)
		if err != nil {
			d.log.Warn("conversation unavailable", zap.Error(err))
		}
		dc.Messages = msgs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	d.s.enrich(ctx, &dc)
	if o.offer != nil {
		d.mu.Lock()
		d.history[c.TrackingNo] = hist
		d.mu.Unlock()
		return offerMsg{Type: "offer", Contact: dc, ExpiresAt: o.deadline.UTC()}
	}
	return assignedMsg{Type: "assigned", Contact: dc}
}

func (d *desk) readLoop(ctx context.Context) {
	d.conn.SetReadLimit(32 << 10) // a WebRTC offer (rtc_offer) is a few KB
	_ = d.conn.SetReadDeadline(time.Now().Add(3 * d.s.ping))
	d.conn.SetPongHandler(func(string) error {
		return d.conn.SetReadDeadline(time.Now().Add(3 * d.s.ping))
	})
	for {
		_, data, err := d.conn.ReadMessage()
		if err != nil {
			return
		}
		_ = d.conn.SetReadDeadline(time.Now().Add(3 * d.s.ping))
		m, perr := decodeInbound(data)
		if perr != nil {
			d.send(outbound{msg: errorMsg{Type: "error", Code: perr.code, Message: perr.msg, Ref: m.Ref}})
			continue
		}
		if d.handle(ctx, m) {
			return
		}
	}
}

// handle does one desk message; it reports whether the desk is done.
func (d *desk) handle(ctx context.Context, m inbound) (done bool) {
	fail := func(code, msg string) {
		d.send(outbound{msg: errorMsg{Type: "error", Code: code, Message: msg, Ref: m.Ref}})
	}
	var err error
	id := d.agent.ID
	if supervisorsOnly[m.Type] && !d.loggedIn(ctx) {
		return true // a supervisor's action only while the login holds
	}
	switch m.Type {
	case "ping":
		d.send(outbound{msg: pongMsg{Type: "pong", Ref: m.Ref}})
		return false
	case "ready", "not_ready":
		if d.loginEnding() {
			// not_ready too: its reason, login_expired, stays for all to see.
			fail("login_expired", "your login has run out: finish what you hold, then log in again")
			return false
		}
		if m.Type == "ready" {
			err = d.s.q.SetPresence(ctx, id, d.sess, queue.PresenceReady, "")
		} else {
			err = d.s.q.SetPresence(ctx, id, d.sess, queue.PresenceNotReady, m.Reason)
		}
	case "accept":
		if err = d.s.q.Accept(ctx, id, m.Contact); err == nil {
			d.s.remember(ctx, id, m.Contact)
		}
	case "reject":
		err = d.s.q.Reject(ctx, id, m.Contact)
	case "end":
		err = d.s.q.End(ctx, id, m.Contact)
	case "wrapup":
		err = d.s.q.WrapUp(ctx, id, m.Contact, queue.RequestType(m.RequestType), queue.Outcome(m.Outcome), m.Note)
		if err == nil {
			err = d.pushIfTransferred(ctx, m.Contact, queue.Outcome(m.Outcome))
		}
		ch := d.wrappedUp(m.Contact)
		if err == nil && d.s.afterWrapUp != nil {
			go func(tn string) {
				actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				d.s.afterWrapUp(actx, tn, ch)
			}(m.Contact)
		}
	case "reply":
		err = d.reply(ctx, m.Contact, strings.TrimSpace(m.Text))
	case "transfer":
		err = d.transfer(ctx, m)
	case "hot_topic_publish", "hot_topic_withdraw":
		err = d.hotTopic(ctx, m)
	case "monitor", "monitor_stop":
		err = d.s.monitor(ctx, d.agent, m, d.notify)
	case "logout":
		d.logout(ctx, "logged out")
		return true
	case "renew":
		var at time.Time
		if at, err = d.renew(ctx, m.Token); err == nil {
			d.send(outbound{msg: renewedMsg{Type: "renewed", Ref: m.Ref, ServerTime: time.Now().UTC(), LoginExpiresAt: at}})
			return false
		}
		if errors.Is(err, errNotThisLogin) {
			fail("bad_token", err.Error())
			return false
		}
	case "phone", "rtc_offer", "phone_answer", "phone_hangup", "phone_hold", "phone_mute", "phone_dtmf":
		var reply any
		if reply, err = d.phone(ctx, m); err == nil && reply != nil {
			d.send(outbound{msg: reply})
			return false
		}
	case "force_not_ready", "force_logout", "reassign", "alert_ack":
		if code, msg := d.s.supervise(ctx, d.agent, m); code != "" {
			fail(code, msg)
			return false
		}
	}
	if err != nil {
		code := phoneCode(err)
		if code == "" {
			code = replyErrorCode(err)
		}
		if code == "" {
			code = hotTopicCode(err)
		}
		if code == "" {
			code = errorCode(err)
		}
		if code == "unavailable" {
			d.log.Warn("desk action failed", zap.String("type", m.Type), zap.Error(err))
			fail(code, "cannot do this now, try again")
		} else {
			fail(code, err.Error())
		}
		if errors.Is(err, queue.ErrStale) {
			d.shut(CloseReplaced, "replaced by a newer desk", false)
			return true
		}
		return false
	}
	d.send(outbound{msg: ackMsg{Type: "ack", Ref: m.Ref, For: m.Type}})
	return false
}

// reply sends an agent's reply to the citizen on the contact's channel and
// records it in the conversation.
func (d *desk) reply(ctx context.Context, tn, text string) error {
	c, err := d.s.q.Contact(ctx, tn)
	if err != nil {
		return err
	}
	if c.Agent != d.agent.ID {
		return fmt.Errorf("%w: contact %s is not yours", queue.ErrNotYours, tn)
	}
	if c.State != queue.StateAssigned && c.State != queue.StateWrapUp {
		return fmt.Errorf("%w: accept contact %s before replying", queue.ErrWrongState, tn)
	}
	r := d.s.repliers[c.Channel]
	if r == nil {
		return fmt.Errorf("%w: %s", channels.ErrNoReplyPath, c.Channel)
	}
	if err := r.Reply(ctx, c, text); err != nil {
		d.log.Info("reply not sent", zap.String("contact", tn), zap.Error(err))
		return err
	}
	return d.s.q.AddMessage(ctx, tn, queue.Message{From: queue.FromAgent, Agent: d.agent.ID, Kind: "text", Text: text,
		Status: "sent"})
}

// watchToken closes the desk with 4002 when its token is revoked (a logout,
// a supervisor's force_logout) and when its login runs out, but not in the
// middle of the agent's work: from the first check that finds two checks'
// time or less left, the agent gets no more work (not ready, reason
// login_expired; ready and not_ready are refused), and while an offer, a
// call or a contact is still the agent's the token is kept alive, check by
// check. Once the agent holds nothing, the token is revoked and the agent
// logged out: a long shift's last call is not cut off at the twelfth hour.
func (d *desk) watchToken() {
	t := time.NewTicker(d.s.ping)
	defer t.Stop()
	for {
		select {
		case <-d.done:
			return
		case <-t.C:
			if d.checkToken() {
				return
			}
		}
	}
}

// checkToken is one look at the desk's token; it reports whether the desk
// was closed.
func (d *desk) checkToken() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.tokmu.Lock()
	defer d.tokmu.Unlock()
	tok := d.token()
	left, err := d.s.tokens.left(ctx, tok)
	if errors.Is(err, ErrBadToken) {
		d.tokenGone()
		return true
	}
	if err != nil || left < 0 || left > 2*d.s.ping {
		return false // Redis unreachable (the next check looks again), or not near its end
	}
	busy, err := d.windDown(ctx)
	if err != nil || busy {
		// Kept until the check after next, so one failed check loses nothing.
		if err := d.s.tokens.extend(ctx, d.agent.ID, tok, 3*d.s.ping); err != nil {
			d.log.Warn("cannot keep the login while the agent works", zap.Error(err))
		}
		return false
	}
	d.log.Info("login ran out; logging out")
	if err := d.s.tokens.revoke(ctx, tok); err != nil {
		d.log.Warn("token not revoked", zap.Error(err))
	}
	d.logout(ctx, "token expired: log in again")
	return true
}

// supervisorsOnly are the desk's messages that act with a supervisor's
// powers: each is done only once the token is found to hold.
var supervisorsOnly = map[string]bool{"force_not_ready": true, "force_logout": true, "reassign": true,
	"alert_ack": true, "monitor": true, "monitor_stop": true, "hot_topic_publish": true, "hot_topic_withdraw": true}

// loggedIn says whether the desk's token still holds; when it does not (a
// logout on another node, a supervisor's force_logout), the desk is closed
// with 4002 at once instead of at the next look. Redis out of reach counts
// as logged in.
func (d *desk) loggedIn(ctx context.Context) bool {
	if d.s.tokens.gone(ctx, d.token()) {
		d.tokenGone()
		return false
	}
	return true
}

// tokenGone closes the desk whose token was revoked or ran out.
func (d *desk) tokenGone() {
	d.log.Info("token expired or revoked; closing the desk")
	d.shut(CloseLoggedOut, "token expired: log in again", true)
}

// windDown gives the agent, whose login is running out, no more work, and
// reports whether the agent still has some (an offer, a contact, a call).
func (d *desk) windDown(ctx context.Context) (busy bool, err error) {
	d.mu.Lock()
	d.ending = true
	d.mu.Unlock()
	st, err := d.s.q.Status(ctx, d.agent.ID)
	if err != nil {
		return false, err
	}
	ready := st.Presence == queue.PresenceReady
	if ready || st.Presence == queue.PresenceNotReady && st.Reason != ReasonLoginExpired {
		err := d.s.q.SetPresence(ctx, d.agent.ID, d.sess, queue.PresenceNotReady, ReasonLoginExpired)
		if err != nil {
			return false, err
		}
		d.mu.Lock()
		d.resume = &queue.AgentStatus{Presence: st.Presence, Reason: st.Reason}
		d.mu.Unlock()
	}
	if ready { // an offer made before it is work to finish
		if st, err = d.s.q.Status(ctx, d.agent.ID); err != nil {
			return false, err
		}
	}
	switch st.State {
	case queue.AgentOffered, queue.AgentBusy, queue.AgentWrapUp:
		return true, nil
	}
	return false, nil
}

// renew moves the desk to a new login of its agent (the page logged in
// again, POST /api/login, as the old one ran out), so a long shift goes on
// without leaving the desk: the desk watches the new token from now on, and
// an agent the wind-down had set not ready gets back the presence it had
// (not ready, reason busy, when that is not known: the desk was connected
// again meanwhile). It returns when the new login runs out.
func (d *desk) renew(ctx context.Context, tok string) (time.Time, error) {
	d.tokmu.Lock()
	defer d.tokmu.Unlock()
	until, err := d.s.tokens.renewal(ctx, d.agent.ID, tok)
	if err != nil {
		return time.Time{}, err
	}
	st, err := d.s.q.Status(ctx, d.agent.ID)
	if err != nil {
		return time.Time{}, err
	}
	if st.Presence == queue.PresenceNotReady && st.Reason == ReasonLoginExpired {
		d.mu.Lock()
		was := d.resume
		d.mu.Unlock()
		if was == nil {
			was = &queue.AgentStatus{Presence: queue.PresenceNotReady, Reason: "busy"}
		}
		// Given back before the desk moves to the new login: if this
		// fails, the page renews again with the same token.
		if err := d.s.q.SetPresence(ctx, d.agent.ID, d.sess, was.Presence, was.Reason); err != nil {
			return time.Time{}, err
		}
	}
	d.mu.Lock()
	d.tok, d.ending, d.resume = tok, false, nil
	d.mu.Unlock()
	d.log.Info("login renewed")
	return until, nil
}

// loginEnding says whether the desk's login is running out (windDown).
func (d *desk) loginEnding() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ending
}

// logout logs the agent out and closes the desk with 4002 and why.
func (d *desk) logout(ctx context.Context, why string) {
	d.closePhone(false)
	d.mu.Lock()
	d.selfOut = true
	d.mu.Unlock()
	if err := d.s.q.Logout(ctx, d.agent.ID, d.sess); err != nil {
		d.log.Warn("logout failed", zap.Error(err))
	}
	d.shut(CloseLoggedOut, why, false)
}
