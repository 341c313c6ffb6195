package agentdesk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// tokens keeps desk tokens in Redis so every node accepts them. Only a hash
// of each token is stored ("tok:<hash>" → agent), and the hashes of an
// agent's tokens in a set ("toks:<agent>", lasting as long as the longest),
// so that all of them can be revoked at once.
type tokens struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

func (t *tokens) key(kind, id string) string { return t.prefix + kind + ":" + id }

func tokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// issue makes a new token for agent.
func (t *tokens) issue(ctx context.Context, agent string) (string, time.Time, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, err
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	h, set := tokenHash(tok), t.key("toks", agent)
	pipe := t.rdb.TxPipeline()
	pipe.Set(ctx, t.key("tok", h), agent, t.ttl)
	pipe.SAdd(ctx, set, h)
	pipe.Expire(ctx, set, t.ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", time.Time{}, err
	}
	return tok, time.Now().Add(t.ttl), nil
}

// agent returns the agent a token belongs to.
func (t *tokens) agent(ctx context.Context, tok string) (string, error) {
	if tok == "" {
		return "", ErrNoToken
	}
	id, err := t.rdb.Get(ctx, t.key("tok", tokenHash(tok))).Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrBadToken
	}
	return id, err
}

// left returns how long a token has left (negative: it never runs out), or
// ErrBadToken when it is revoked or has run out.
func (t *tokens) left(ctx context.Context, tok string) (time.Duration, error) {
	d, err := t.rdb.PTTL(ctx, t.key("tok", tokenHash(tok))).Result()
	if err != nil {
		return 0, err
	}
	if d == -2 { // no such key
		return 0, ErrBadToken
	}
	return d, nil
}

// gone says whether a token is revoked or has run out, asking Redis for up
// to 5 s; Redis out of reach counts as not gone (the next look decides).
func (t *tokens) gone(ctx context.Context, tok string) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := t.agent(ctx, tok)
	return errors.Is(err, ErrBadToken)
}

// extend gives agent's token d more from now, if it still exists (a
// revoked token stays revoked); the agent's set of tokens lasts as long.
func (t *tokens) extend(ctx context.Context, agent, tok string, d time.Duration) error {
	pipe := t.rdb.Pipeline()
	pipe.PExpire(ctx, t.key("tok", tokenHash(tok)), d)
	pipe.Do(ctx, "PEXPIRE", t.key("toks", agent), d.Milliseconds(), "GT")
	_, err := pipe.Exec(ctx)
	return err
}

// revokeAgent revokes every token of agent (every page it is logged in
// on), and tokens issued before this version kept no set, only tok.
func (t *tokens) revokeAgent(ctx context.Context, agent, tok string) error {
	set := t.key("toks", agent)
	hs, err := t.rdb.SMembers(ctx, set).Result()
	if err != nil {
		return err
	}
	keys := []string{set, t.key("tok", tokenHash(tok))}
	for _, h := range hs {
		keys = append(keys, t.key("tok", h))
	}
	return t.rdb.Del(ctx, keys...).Err()
}

// errNotThisLogin is a renewal with a token that is not a login of the
// page's agent.
var errNotThisLogin = errors.New("token: unknown, expired or another agent's; log in with your own password first")

// renewal checks that tok, which a page wants to go on with, is a login of
// agent, and returns when it runs out.
func (t *tokens) renewal(ctx context.Context, agent, tok string) (time.Time, error) {
	id, err := t.agent(ctx, tok)
	if errors.Is(err, ErrBadToken) || err == nil && id != agent {
		return time.Time{}, errNotThisLogin
	}
	if err != nil {
		return time.Time{}, err
	}
	at, err := t.until(ctx, tok)
	if errors.Is(err, ErrBadToken) {
		return time.Time{}, errNotThisLogin
	}
	return at, err
}

// until returns when a token runs out (the zero time if it never does), or
// ErrBadToken when it is revoked or has run out.
func (t *tokens) until(ctx context.Context, tok string) (time.Time, error) {
	left, err := t.left(ctx, tok)
	if err != nil || left < 0 {
		return time.Time{}, err
	}
	return time.Now().Add(left).UTC(), nil
}

func (t *tokens) revoke(ctx context.Context, tok string) error {
	return t.rdb.Del(ctx, t.key("tok", tokenHash(tok))).Err()
}

// bearer returns the token of a request's Authorization: Bearer header.
// Tokens are never taken from URLs, which end up in logs and histories.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(tok)
		}
	}
	return ""
}

// wsToken returns the token of a websocket request: the Authorization
// header, or for browsers (which cannot set it on a websocket) the
// subprotocol "bearer.<token>" offered beside "lianxin.desk".
func wsToken(r *http.Request) string {
	if tok := bearer(r); tok != "" {
		return tok
	}
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(h, ",") {
			if tok, ok := strings.CutPrefix(strings.TrimSpace(p), "bearer."); ok {
				return tok
			}
		}
	}
	return ""
}

// authenticate returns the agent of the request's token, or answers 401/503.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	return s.authenticateToken(w, r, bearer(r))
}

func (s *Server) authenticateToken(w http.ResponseWriter, r *http.Request, tok string) (string, bool) {
	id, err := s.tokens.agent(r.Context(), tok)
	switch {
	case errors.Is(err, ErrNoToken), errors.Is(err, ErrBadToken):
		WriteError(w, http.StatusUnauthorized, "unauthorized", err.Error())
		return "", false
	case err != nil:
		WriteError(w, http.StatusServiceUnavailable, "unavailable", fmt.Sprintf("cannot check the token now: %v", err))
		return "", false
	}
	if _, ok := s.agents[id]; !ok {
		WriteError(w, http.StatusUnauthorized, "unauthorized", "agent no longer exists")
		return "", false
	}
	return id, true
}

// supervisor returns the agent of the request's token when it is a
// supervisor, or answers 401/403.
func (s *Server) supervisor(w http.ResponseWriter, r *http.Request) (string, bool) {
	id, ok := s.authenticate(w, r)
	if !ok {
		return "", false
	}
	if !s.agents[id].Supervisor {
		WriteError(w, http.StatusForbidden, "forbidden", "supervisors only")
		return "", false
	}
	return id, true
}

// SupervisorOnly serves h to supervisors only (a desk token of a
// supervisor in the Authorization header): 401 without a valid token, 403
// for an agent. Other packages' supervisor pages use it (/api/clusters).
func (s *Server) SupervisorOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.supervisor(w, r); ok {
			h.ServeHTTP(w, r)
		}
	})
}

// Supervisor answers 401 or 403 unless the request's bearer token is a
// supervisor's, and returns that supervisor's id: other packages' routes
// for supervisors only (the reports) use it.
func (s *Server) Supervisor(w http.ResponseWriter, r *http.Request) (string, bool) {
	return s.supervisor(w, r)
}
