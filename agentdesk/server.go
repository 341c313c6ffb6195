// Package agentdesk is the agents' and supervisors' side of Lianxin: the
// HTTP API for logging in and looking things up, the agent websocket (see
// PROTOCOL.md) and the embedded desk page.
package agentdesk

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lianxin/lianxin/channels/blobstore"
	"github.com/lianxin/lianxin/hottopic"
	"github.com/lianxin/lianxin/queue"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Agent is one person who may log in.
type Agent struct {
	queue.Profile
	// PasswordHash is a bcrypt hash.
	PasswordHash string
	// Supervisor desks also get emergency alerts.
	Supervisor bool
}

// QueueTitle is a queue's name and the title people read, e.g. 综合受理.
type QueueTitle struct{ Name, Title string }

// Replier sends an agent's reply to the citizen on one channel.
type Replier interface {
	Reply(ctx context.Context, c *queue.Contact, text string) error
}

// Blobs reads attachments by content hash.
type Blobs interface {
	Open(ctx context.Context, sha256 string) (io.ReadCloser, int64, error)
}

// Params wire a Server.
type Params struct {
	Queue  *queue.Queue
	Redis  redis.UniversalClient
	Prefix string // the deployment's key prefix, queue.Queue.Prefix() (e.g. "{lianxin}:"); the desk's keys are under Prefix+"agentdesk:"
	Agents []Agent
	Blobs  Blobs
	// Repliers carry agents' replies out, by the contact's channel.
	Repliers map[queue.Channel]Replier
	// TokenTTL is how long a login lasts.
	TokenTTL time.Duration
	// RenewWarning is how long before a login runs out the desk's page
	// offers to renew it (hello's renew_warning_seconds) [15m].
	RenewWarning time.Duration
	Logger       *zap.Logger
	// PingEvery is how often desks are pinged [20s]; a desk silent for three
	// times as long is dropped.
	PingEvery time.Duration
	// QueueTitles are the queues' names people read (configs: queues[].title),
	// in the order the wallboard lists them; a queue not given is listed
	// after them, by its name.
	QueueTitles []QueueTitle
	// AfterWrapUp, if set, runs (in its own goroutine) after an agent wrapped
	// a contact up: the citizen of a text contact is asked for a rating. ch
	// is the contact's channel as the desk was shown it, "" when the desk
	// does not know it (so the hook need not read the contact to learn it).
	AfterWrapUp func(ctx context.Context, tn string, ch queue.Channel)
	// HotTopics, if set, lets supervisors publish hot-topic answers.
	HotTopics *hottopic.Store
	// Groups, if set, finds a common problem by its id (package clusters:
	// the groups last published), so that a supervisor can turn it into a
	// hot-topic answer (hot_topic_publish with group, POST
	// /api/clusters/{id}/hot-topic). ok false: no such group.
	Groups func(ctx context.Context, id string) (g Group, ok bool, err error)
	// LoginHashesPerSecond bounds the passwords this node hashes [8]: a
	// bcrypt check takes tens of milliseconds of a core, so a flood of
	// logins could otherwise starve everything else. Logins beyond it are
	// answered 503 at once.
	LoginHashesPerSecond float64
	// Softphone is the browser phone (sip.Server); nil: desks use SIP phones only.
	Softphone Softphone
	// Transfers sets the desk's transfer message (transfer.go).
	Transfers Transfers
}

// Server serves the desk API and websockets of one node.
type Server struct {
	// held batches the records of held contacts (remember).
	held      heldBatcher
	q         *queue.Queue
	agents    map[string]Agent
	tokens    *tokens
	blobs     Blobs
	repliers  map[queue.Channel]Replier
	softphone Softphone
	xfer      Transfers
	log       *zap.Logger
	titles    map[string]string // queue titles by name
	ping      time.Duration
	// renewWarning: Params.RenewWarning.
	renewWarning time.Duration

	logins  *loginGuard
	lookups *lookupGuard
	rdb     redis.UniversalClient
	ns      string // the agentdesk namespace of the deployment's keys

	board *board

	afterWrapUp func(ctx context.Context, tn string, ch queue.Channel)
	hot         *hottopic.Store
	groups      func(ctx context.Context, id string) (Group, bool, error)

	mu         sync.Mutex
	desks      map[string]*desk       // by agent id
	walls      map[*wallConn]struct{} // supervisors' wallboards
	lastAlerts string
	draining   bool
	wg         sync.WaitGroup

	// Test hooks: afterConnect runs between seating an agent in Redis and
	// upgrading its websocket; eventSeen after each event is handled;
	// beforeDeskRead before an offer or assignment's Redis reads (history,
	// conversation), with its tracking number.
	afterConnect   func()
	eventSeen      func(queue.Event)
	beforeDeskRead func(tn string)
}

// New returns a Server. Call Run to deliver queue events to the desks.
func New(p Params) *Server {
	if p.Logger == nil {
		p.Logger = zap.NewNop()
	}
	if p.PingEvery <= 0 {
		p.PingEvery = 20 * time.Second
	}
	if p.TokenTTL <= 0 {
		p.TokenTTL = 12 * time.Hour
	}
	if p.RenewWarning <= 0 {
		p.RenewWarning = 15 * time.Minute
	}
	if p.LoginHashesPerSecond <= 0 {
		p.LoginHashesPerSecond = 8
	}
	ns := p.Prefix + "agentdesk:"
	s := &Server{q: p.Queue, agents: map[string]Agent{}, blobs: p.Blobs, repliers: p.Repliers, softphone: p.Softphone, xfer: p.Transfers,
		log: p.Logger, ping: p.PingEvery, renewWarning: p.RenewWarning,
		tokens: &tokens{rdb: p.Redis, prefix: ns, ttl: p.TokenTTL}, desks: map[string]*desk{},
		logins:  &loginGuard{rdb: p.Redis, prefix: ns + "login:", budget: newBudget(p.LoginHashesPerSecond, nil)},
		lookups: &lookupGuard{rdb: p.Redis, prefix: ns + "lookup:"}, rdb: p.Redis, ns: ns, afterWrapUp: p.AfterWrapUp,
		hot: p.HotTopics, groups: p.Groups}
	s.titles = map[string]string{}
	if p.Queue != nil {
		for _, d := range p.Queue.Queues() {
			s.titles[d.Name] = d.Title
		}
	}
	hashes := make([]string, 0, len(p.Agents))
	for _, a := range p.Agents {
		s.agents[a.ID] = a
		hashes = append(hashes, a.PasswordHash)
	}
	s.logins.dummy = dummyHash(hashes)
	s.walls = map[*wallConn]struct{}{}
	titles := map[string]string{}
	var order []string
	known := map[string]bool{}
	for _, d := range p.Queue.Queues() {
		known[d.Name] = true
	}
	for _, qt := range p.QueueTitles {
		if known[qt.Name] && titles[qt.Name] == "" {
			order = append(order, qt.Name)
			titles[qt.Name] = cmp.Or(qt.Title, qt.Name)
		}
	}
	for _, d := range p.Queue.Queues() {
		if titles[d.Name] == "" {
			order = append(order, d.Name)
			titles[d.Name] = d.Name
		}
	}
	s.board = newBoard(titles, order, s.agents, p.Logger.Named("wallboard"))
	return s
}

// Register adds the desk's routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/login", s.login)
	mux.HandleFunc("POST /api/logout", s.logout)
	mux.HandleFunc("GET /api/queues", s.queues)
	mux.HandleFunc("GET /api/contacts/{tn}", s.contact)
	mux.HandleFunc("GET /api/contacts/{tn}/recording", s.recording)
	mux.HandleFunc("POST /api/hot-topics", s.uploadHotTopic)
	mux.HandleFunc("POST /api/clusters/{id}/hot-topic", s.groupHotTopic)
	mux.HandleFunc("GET /api/attachments/{sha}", s.attachment)
	mux.HandleFunc("GET /desk/ws", s.serveWS)
	mux.Handle("GET /desk/", http.StripPrefix("/desk/", pageHandler()))
	mux.HandleFunc("GET /wallboard/ws", s.serveWallboard)
	mux.HandleFunc("GET /wallboard", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/desk/wallboard.html", http.StatusFound)
	})
	mux.HandleFunc("GET /desk", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/desk/", http.StatusMovedPermanently)
	})
}

type loginRequest struct {
	Agent    string `json:"agent"`
	Password string `json:"password"`
}

type agentInfo struct {
	ID         string                `json:"id"`
	Name       string                `json:"name"`
	Skills     map[string]int        `json:"skills"`
	Capacity   map[queue.Channel]int `json:"capacity"`
	Supervisor bool                  `json:"supervisor,omitempty"`
}

func infoOf(a Agent) agentInfo {
	return agentInfo{ID: a.ID, Name: a.Name, Skills: a.Skills, Capacity: a.Capacity, Supervisor: a.Supervisor}
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	if err := dec.Decode(&req); err != nil {
		WriteError(w, http.StatusBadRequest, "bad_request", "body must be JSON {\"agent\":\"…\",\"password\":\"…\"}: "+err.Error())
		return
	}
	if req.Agent == "" {
		WriteError(w, http.StatusBadRequest, "bad_request", "agent: required")
		return
	}
	if req.Password == "" {
		WriteError(w, http.StatusBadRequest, "bad_request", "password: required")
		return
	}
	if len(req.Agent) > maxAgentIDBytes || len(req.Password) > 72 {
		WriteError(w, http.StatusBadRequest, "bad_request", "agent: at most 64 bytes; password: at most 72 bytes")
		return
	}
	a := s.agents[req.Agent]
	addr := sourceAddr(r)
	err := s.logins.check(r.Context(), req.Agent, addr, a.PasswordHash, req.Password)
	var locked *lockedError
	switch {
	case errors.Is(err, ErrBadCredentials):
		s.log.Info("login refused", zap.String("agent", req.Agent), zap.String("from", addr))
		WriteError(w, http.StatusUnauthorized, "bad_credentials", err.Error())
		return
	case errors.As(err, &locked):
		w.Header().Set("Retry-After", itoa(int64((locked.retry+time.Second-1)/time.Second)))
		WriteError(w, http.StatusTooManyRequests, "too_many_attempts", err.Error())
		return
	case errors.Is(err, ErrLoginBusy):
		w.Header().Set("Retry-After", "1")
		WriteError(w, http.StatusServiceUnavailable, "login_busy", err.Error())
		return
	case err != nil:
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "cannot log in now, try again: "+err.Error())
		return
	}
	tok, exp, err := s.tokens.issue(r.Context(), a.ID)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "cannot log in now, try again: "+err.Error())
		return
	}
	s.log.Info("login", zap.String("agent", a.ID))
	WriteJSON(w, http.StatusOK, map[string]any{"token": tok, "expires_at": exp.UTC().Format(time.RFC3339),
		"agent": infoOf(a)})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	id, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	tok := bearer(r)
	if err := s.tokens.revoke(r.Context(), tok); err != nil {
		WriteError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	// The desk is logged out when it runs on this login. One renewed has
	// left it: a page still on the old token (a wallboard, a forgotten
	// tab) ends with it, as it would on another node, and the desk goes on.
	if d := s.desk(id); d != nil && d.token() == tok {
		d.logout(r.Context(), "logged out")
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) queues(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.supervisor(w, r); !ok {
		return
	}
	stats, err := s.q.Stats(r.Context())
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"queues": stats})
}

// publicContact is what anyone holding a tracking number may see: where the
// request stands, with no citizen's or agent's personal data.
type publicContact struct {
	TrackingNo  string             `json:"tracking_no"`
	Channel     queue.Channel      `json:"channel"`
	Line        string             `json:"line,omitempty"`
	LineName    string             `json:"line_name,omitempty"`
	State       queue.ContactState `json:"state"`
	Status      string             `json:"status"`
	RequestType queue.RequestType  `json:"request_type,omitempty"`
	Outcome     queue.Outcome      `json:"outcome,omitempty"`
	OutcomeText string             `json:"outcome_text,omitempty"`
	ReceivedAt  time.Time          `json:"received_at"`
	AnsweredAt  *time.Time         `json:"answered_at,omitempty"`
	ClosedAt    *time.Time         `json:"closed_at,omitempty"`
	// Rating is the citizen's rating of the service (回访评价), once given.
	Rating *queue.Rating `json:"rating,omitempty"`
}

var statusText = map[queue.ContactState]string{
	queue.StateIVR:      "已受理，语音导航中",
	queue.StateWaiting:  "已受理，排队等待中",
	queue.StateOffered:  "已受理，正在分派坐席",
	queue.StateAssigned: "坐席正在办理",
	queue.StateWrapUp:   "坐席正在办理",
	queue.StateClosed:   "已办结",
}

func (s *Server) contact(w http.ResponseWriter, r *http.Request) {
	tn := r.PathValue("tn")
	if !queue.ValidTrackingNo(tn) {
		WriteError(w, http.StatusBadRequest, "bad_tracking_no", "tracking_no: not a tracking number (15 digits, the last a check digit; older ones 13)")
		return
	}
	last4 := r.URL.Query().Get("phone_last4")
	if len(last4) != 4 || !isDigits(last4) {
		WriteError(w, http.StatusBadRequest, "bad_phone_last4",
			"phone_last4: the last four digits of the phone number given with the request are required")
		return
	}
	ctx := r.Context()
	retry, err := s.lookups.allow(ctx, sourceAddr(r), tn)
	switch {
	case err != nil:
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "cannot look this up now, try again")
		return
	case retry > 0:
		w.Header().Set("Retry-After", itoa(int64((retry+time.Second-1)/time.Second)))
		WriteError(w, http.StatusTooManyRequests, "too_many_lookups", "too many lookups; try again later")
		return
	}
	c, err := s.q.Contact(ctx, tn)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		s.lookups.miss(ctx, tn)
		WriteError(w, http.StatusNotFound, "not_found", notFound)
		return
	case err != nil:
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "cannot look this up now, try again")
		return
	}
	phone := citizenPhone(c)
	if phone == "" {
		WriteError(w, http.StatusForbidden, "no_phone",
			"this request was made without a phone number, so it cannot be looked up here; call 12345 and give the tracking number")
		return
	}
	if !strings.HasSuffix(phone, last4) {
		s.lookups.miss(ctx, tn)
		WriteError(w, http.StatusNotFound, "not_found", notFound)
		return
	}
	pc := publicContact{TrackingNo: c.TrackingNo, Channel: c.Channel, Line: c.Line,
		LineName: c.LineName, State: c.State, Status: statusText[c.State], RequestType: c.RequestType,
		Outcome: c.Outcome, OutcomeText: queue.Outcomes[c.Outcome], ReceivedAt: c.ReceivedAt,
		AnsweredAt: c.AssignedAt, ClosedAt: c.ClosedAt, Rating: c.Rating}
	if SensitiveLine(c.LineName) {
		// Whom a letter to a discipline-inspection mailbox reports on must
		// not be told to whoever holds its number.
		pc.Line, pc.LineName, pc.RequestType = "", "", ""
	}
	WriteJSON(w, http.StatusOK, pc)
}

const notFound = "no contact with this tracking number and these phone digits"

// citizenPhone is the phone number a contact was made with, if any.
func citizenPhone(c *queue.Contact) string {
	if c.Citizen.Phone != "" {
		return c.Citizen.Phone
	}
	if strings.HasPrefix(c.Citizen.Address, "+") && isDigits(c.Citizen.Address[1:]) {
		return c.Citizen.Address
	}
	return ""
}

// sensitiveWords mark the lines (mailboxes) whose name the public lookup
// never shows: discipline inspection and supervision (纪委, 纪工委, 纪检组,
// 监委, 监察).
var sensitiveWords = []string{"纪委", "纪工委", "纪检", "监委", "监察"}

// SensitiveLine reports whether a line's name marks it as a
// discipline-inspection mailbox, whose name and request type the public
// lookup leaves out.
func SensitiveLine(name string) bool {
	for _, w := range sensitiveWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

func (s *Server) attachment(w http.ResponseWriter, r *http.Request) {
	id, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	sha := r.PathValue("sha")
	if len(sha) != 64 || !isHex(sha) {
		WriteError(w, http.StatusBadRequest, "bad_hash", "sha: must be 64 hex digits")
		return
	}
	if !s.agents[id].Supervisor {
		tn := r.URL.Query().Get("contact")
		if !queue.ValidTrackingNo(tn) {
			WriteError(w, http.StatusBadRequest, "bad_contact", "contact: the tracking number of the contact the attachment belongs to is required")
			return
		}
		ok, err := s.mayOpen(r.Context(), id, tn, sha)
		switch {
		case err != nil:
			WriteError(w, http.StatusServiceUnavailable, "unavailable", "cannot check this now, try again")
			return
		case !ok:
			WriteError(w, http.StatusForbidden, "forbidden", "not an attachment of a contact you hold or held")
			return
		}
	}
	if s.blobs == nil {
		WriteError(w, http.StatusNotFound, "not_found", "no attachment store")
		return
	}
	rc, size, err := s.blobs.Open(r.Context(), sha)
	switch {
	case errors.Is(err, blobstore.ErrNotFound):
		WriteError(w, http.StatusNotFound, "not_found", "no attachment "+sha)
		return
	case err != nil: // the object store does not answer: try again, it is not gone
		s.log.Warn("attachment store unavailable", zap.String("sha", sha), zap.Error(err))
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "the attachment store does not answer, try again")
		return
	}
	defer rc.Close()
	// Pictures, sound and video are shown in the desk (inline, with the
	// type their bytes have); anything else — scripts, HTML, SVG, office
	// files — is only downloaded. The sandbox and nosniff hold for both.
	head := make([]byte, 512)
	n, err := io.ReadFull(rc, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "cannot read attachment "+sha)
		return
	}
	head = head[:n]
	if typ, ok := inlineType(head); ok {
		w.Header().Set("Content-Type", typ)
		w.Header().Set("Content-Disposition", "inline")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", "attachment")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "sandbox")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", itoa(size))
	_, _ = w.Write(head)
	_, _ = io.Copy(w, rc)
}

// inlineTypes are the types the desk shows in the page: pictures, sound and
// video that browsers decode as media, never run.
var inlineTypes = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true, "image/bmp": true,
	"audio/wave": true, "audio/mpeg": true, "audio/ogg": true, "video/mp4": true, "video/webm": true,
}

// inlineType is the type of an attachment by its first bytes (the type a
// citizen declared is not trusted), and whether the desk may show it inline.
// SVG, which can carry script, sniffs as text or XML and is never inline.
func inlineType(head []byte) (string, bool) {
	typ, _, _ := strings.Cut(http.DetectContentType(head), ";")
	return typ, inlineTypes[typ]
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
