// Package agentdesk is the agents' and supervisors' side of Lianxin: the
// HTTP API for logging in and looking things up, the agent websocket (see
// PROTOCOL.md) and the embedded desk page.
package agentdesk

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

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
	Prefix string // the deployment's key prefix, e.g. "{lianxin}:"
	Agents []Agent
	Blobs  Blobs
	// Repliers carry agents' replies out, by the contact's channel.
	Repliers map[queue.Channel]Replier
	// TokenTTL is how long a login lasts.
	TokenTTL time.Duration
	Logger   *zap.Logger
	// PingEvery is how often desks are pinged [20s]; a desk silent for three
	// times as long is dropped.
	PingEvery time.Duration
}

// Server serves the desk API and websockets of one node.
type Server struct {
	q        *queue.Queue
	agents   map[string]Agent
	tokens   *tokens
	blobs    Blobs
	repliers map[queue.Channel]Replier
	log      *zap.Logger
	ping     time.Duration

	mu       sync.Mutex
	desks    map[string]*desk // by agent id
	draining bool
	wg       sync.WaitGroup
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
	s := &Server{q: p.Queue, agents: map[string]Agent{}, blobs: p.Blobs, repliers: p.Repliers, log: p.Logger, ping: p.PingEvery,
		tokens: &tokens{rdb: p.Redis, prefix: p.Prefix, ttl: p.TokenTTL}, desks: map[string]*desk{}}
	for _, a := range p.Agents {
		s.agents[a.ID] = a
	}
	return s
}

// Register adds the desk's routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/login", s.login)
	mux.HandleFunc("POST /api/logout", s.logout)
	mux.HandleFunc("GET /api/queues", s.queues)
	mux.HandleFunc("GET /api/contacts/{tn}", s.contact)
	mux.HandleFunc("GET /api/attachments/{sha}", s.attachment)
	mux.HandleFunc("GET /desk/ws", s.serveWS)
	mux.Handle("GET /desk/", http.StripPrefix("/desk/", pageHandler()))
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
	a := s.agents[req.Agent]
	err := s.tokens.checkPassword(r.Context(), req.Agent, a.PasswordHash, req.Password)
	switch {
	case errors.Is(err, ErrBadCredentials):
		s.log.Info("login refused", zap.String("agent", req.Agent))
		WriteError(w, http.StatusUnauthorized, "bad_credentials", err.Error())
		return
	case errors.Is(err, ErrLocked):
		w.Header().Set("Retry-After", "60")
		WriteError(w, http.StatusTooManyRequests, "too_many_attempts", err.Error())
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
	if err := s.tokens.revoke(r.Context(), bearer(r)); err != nil {
		WriteError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	if d := s.desk(id); d != nil {
		d.logout(r.Context())
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) queues(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authenticate(w, r); !ok {
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
}

var statusText = map[queue.ContactState]string{
	queue.StateWaiting:  "已受理，排队等待中",
	queue.StateOffered:  "已受理，正在分派坐席",
	queue.StateAssigned: "坐席正在办理",
	queue.StateWrapUp:   "坐席正在办理",
	queue.StateClosed:   "已办结",
}

func (s *Server) contact(w http.ResponseWriter, r *http.Request) {
	tn := r.PathValue("tn")
	if !queue.ValidTrackingNo(tn) {
		WriteError(w, http.StatusBadRequest, "bad_tracking_no", "tracking_no: not a tracking number (13 digits with a check digit)")
		return
	}
	c, err := s.q.Contact(r.Context(), tn)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		WriteError(w, http.StatusNotFound, "not_found", "no contact with tracking number "+tn)
		return
	case err != nil:
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "cannot look this up now, try again")
		return
	}
	WriteJSON(w, http.StatusOK, publicContact{TrackingNo: c.TrackingNo, Channel: c.Channel, Line: c.Line,
		LineName: c.LineName, State: c.State, Status: statusText[c.State], RequestType: c.RequestType,
		Outcome: c.Outcome, OutcomeText: queue.Outcomes[c.Outcome], ReceivedAt: c.ReceivedAt,
		AnsweredAt: c.AssignedAt, ClosedAt: c.ClosedAt})
}

func (s *Server) attachment(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authenticate(w, r); !ok {
		return
	}
	sha := r.PathValue("sha")
	if len(sha) != 64 || !isHex(sha) {
		WriteError(w, http.StatusBadRequest, "bad_hash", "sha: must be 64 hex digits")
		return
	}
	if s.blobs == nil {
		WriteError(w, http.StatusNotFound, "not_found", "no attachment store")
		return
	}
	rc, size, err := s.blobs.Open(r.Context(), sha)
	if err != nil {
		WriteError(w, http.StatusNotFound, "not_found", "no attachment "+sha)
		return
	}
	defer rc.Close()
	// Citizens' files are never rendered by the desk's origin: download only.
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", "attachment")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "sandbox")
	w.Header().Set("Content-Length", itoa(size))
	_, _ = io.Copy(w, rc)
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
