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
	"golang.org/x/crypto/bcrypt"
)

// maxFailures wrong passwords in a row lock an agent out for lockout.
const (
	maxFailures = 5
	lockout     = time.Minute
)

// tokens keeps desk tokens in Redis so every node accepts them. Only a hash
// of each token is stored.
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
	if err := t.rdb.Set(ctx, t.key("tok", tokenHash(tok)), agent, t.ttl).Err(); err != nil {
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

func (t *tokens) revoke(ctx context.Context, tok string) error {
	return t.rdb.Del(ctx, t.key("tok", tokenHash(tok))).Err()
}

// checkPassword verifies an agent's password against its bcrypt hash and
// counts failures in Redis, so a lockout holds on every node.
func (t *tokens) checkPassword(ctx context.Context, agent, hash, password string) error {
	fk := t.key("fail", agent)
	n, err := t.rdb.Get(ctx, fk).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if n >= maxFailures {
		return ErrLocked
	}
	if hash == "" {
		// Unknown agent: spend the same time as a real check.
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return ErrBadCredentials
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		pipe := t.rdb.TxPipeline()
		pipe.Incr(ctx, fk)
		pipe.Expire(ctx, fk, lockout)
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		return ErrBadCredentials
	}
	return t.rdb.Del(ctx, fk).Err()
}

var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("lianxin-dummy"), bcrypt.DefaultCost)

// bearer returns the token of a request: Authorization: Bearer, or ?token=.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(tok)
		}
	}
	return r.URL.Query().Get("token")
}

// authenticate returns the agent of the request's token, or answers 401/503.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	id, err := s.tokens.agent(r.Context(), bearer(r))
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
