package sip

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/lianxin/lianxin/queue"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// registrar takes agents' phones' REGISTERs with digest authentication
// (RFC 3261 §22, RFC 7616: qop=auth, SHA-256 and MD5; nonces signed with a
// deployment secret, good for 5 minutes and spent on first use) and keeps each phone's binding in Redis, where every node
// finds it to ring the phone.
type registrar struct {
	rdb    redis.UniversalClient
	prefix string
	cfg    Config
	phones map[string]Phone // by SIP user
	q      *queue.Queue
	log    *zap.Logger

	mu     sync.Mutex
	secret []byte // nonceKey's, once read
}

const nonceTTL = 5 * time.Minute

func newRegistrar(rdb redis.UniversalClient, prefix string, cfg Config, phones []Phone, q *queue.Queue, log *zap.Logger) *registrar {
	r := &registrar{rdb: rdb, prefix: prefix, cfg: cfg, phones: map[string]Phone{}, q: q, log: log}
	for _, p := range phones {
		r.phones[p.User] = p
	}
	return r
}

func (r *registrar) key(parts ...string) string { return r.prefix + "sip:" + strings.Join(parts, ":") }

func (r *registrar) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	to := req.To()
	if to == nil {
		respond(tx, req, 400, "Bad Request")
		return
	}
	user := to.Address.User
	h := req.GetHeader("Authorization")
	if h == nil {
		r.challenge(ctx, req, tx, false)
		return
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		respond(tx, req, 400, "Bad Request", sip.NewHeader("Warning", `399 lianxin "bad Authorization header"`))
		return
	}
	phone, known := r.phones[user]
	if cred.Username != user || cred.Realm != r.cfg.Realm {
		r.log.Info("REGISTER refused: credentials for another user or realm", zap.String("user", user))
		respond(tx, req, 403, "Forbidden")
		return
	}
	// The nonce must be ours and fresh; then the credentials right; then
	// the nonce is spent. Only a phone that knows its password makes a
	// nonce cost anything in Redis.
	if !r.freshNonce(ctx, cred.Nonce) {
		r.challenge(ctx, req, tx, true)
		return
	}
	if !known || !checkDigest(cred, phone, req.Method.String()) {
		r.log.Info("REGISTER refused: wrong credentials", zap.String("user", user))
		respond(tx, req, 403, "Forbidden")
		return
	}
	first, err := r.rdb.SetNX(ctx, r.key("nonce", cred.Nonce), "1", nonceTTL).Result()
	if err != nil {
		respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
		return
	}
	if !first {
		r.challenge(ctx, req, tx, true) // a nonce is good once
		return
	}
	r.bind(ctx, req, tx, phone)
}

// challenge answers 401 with a fresh nonce, for MD5 when the phone's
// account has an MD5 hash, else for SHA-256 (RFC 7616). One challenge, not
// both (RFC 8760 allows several): phones such as baresip 1.0.0 fail on the
// first algorithm they do not know ("Function not implemented") instead of
// choosing. A phone may still answer with SHA-256; either hash is checked.
func (r *registrar) challenge(ctx context.Context, req *sip.Request, tx sip.ServerTransaction, stale bool) {
	alg := "MD5"
	if to := req.To(); to != nil {
		if p, ok := r.phones[to.Address.User]; ok && p.HA1MD5 == "" {
			alg = "SHA-256"
		}
	}
	nonce, err := r.newNonce(ctx)
	if err != nil {
		r.log.Warn("no nonce: Redis unavailable", zap.Error(err))
		respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
		return
	}
	res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
	ch := digest.Challenge{Realm: r.cfg.Realm, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
	res.AppendHeader(sip.NewHeader("WWW-Authenticate", ch.String()))
	_ = tx.Respond(res)
}

// nonceKey is the deployment's secret for nonces, made once in Redis so
// every node can check the nonces of the others.
func (r *registrar) nonceKey(ctx context.Context) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secret != nil {
		return r.secret, nil
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	if err := r.rdb.SetNX(ctx, r.key("nonce-secret"), hex.EncodeToString(b[:]), 0).Err(); err != nil {
		return nil, err
	}
	v, err := r.rdb.Get(ctx, r.key("nonce-secret")).Result()
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(v)
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("sip: bad nonce secret in Redis")
	}
	r.secret = key
	return key, nil
}

// newNonce is time (ms) and 8 random bytes, signed: checked without any
// state, so a flood of unauthenticated REGISTERs stores nothing.
func (r *registrar) newNonce(ctx context.Context) (string, error) {
	key, err := r.nonceKey(ctx)
	if err != nil {
		return "", err
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli()))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[:]) + "." + nonceMAC(key, b[:]), nil
}

func nonceMAC(key, b []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// freshNonce says whether a nonce is one of ours and younger than nonceTTL.
func (r *registrar) freshNonce(ctx context.Context, nonce string) bool {
	body, mac, ok := strings.Cut(nonce, ".")
	b, err := hex.DecodeString(body)
	if !ok || err != nil || len(b) != 16 {
		return false
	}
	key, err := r.nonceKey(ctx)
	if err != nil || !hmac.Equal([]byte(mac), []byte(nonceMAC(key, b))) {
		return false
	}
	age := time.Since(time.UnixMilli(int64(binary.BigEndian.Uint64(b[:8]))))
	return age >= -time.Minute && age <= nonceTTL
}

// checkDigest recomputes the response from the stored HA1 (RFC 7616 §3.4.1).
func checkDigest(c *digest.Credentials, p Phone, method string) bool {
	var h func() hash.Hash
	var ha1 string
	switch strings.ToUpper(c.Algorithm) {
	case "", "MD5":
		h, ha1 = md5.New, p.HA1MD5
	case "SHA-256":
		h, ha1 = sha256.New, p.HA1SHA256
	default:
		return false
	}
	if ha1 == "" {
		return false
	}
	hx := func(s string) string {
		x := h()
		x.Write([]byte(s))
		return hex.EncodeToString(x.Sum(nil))
	}
	ha2 := hx(method + ":" + c.URI)
	var want string
	switch c.QOP {
	case "":
		want = hx(ha1 + ":" + c.Nonce + ":" + ha2)
	case "auth":
		want = hx(fmt.Sprintf("%s:%s:%08x:%s:%s:%s", ha1, c.Nonce, c.Nc, c.Cnonce, c.QOP, ha2))
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(c.Response))) == 1
}

// bind stores the phone's contact (or removes it: Expires 0) and tells
// routing whether the agent can take calls.
func (r *registrar) bind(ctx context.Context, req *sip.Request, tx sip.ServerTransaction, p Phone) {
	contact := req.Contact()
	expires := -1
	if h := req.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil {
			expires = n
		}
	}
	if contact != nil {
		if v, ok := contact.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				expires = n
			}
		}
	}
	if contact == nil {
		// A query: answer with the binding we have.
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		if uri, err := r.lookup(ctx, p.Agent); err == nil {
			res.AppendHeader(&sip.ContactHeader{Address: uri})
		}
		_ = tx.Respond(res)
		return
	}
	if expires < 0 {
		expires = 3600
	}
	min, max := int(r.cfg.Register.MinExpires.Seconds()), int(r.cfg.Register.MaxExpires.Seconds())
	if expires > 0 && expires < min {
		respond(tx, req, 423, "Interval Too Brief", sip.NewHeader("Min-Expires", strconv.Itoa(min)))
		return
	}
	expires = minInt(expires, max)
	key := r.key("phone", p.Agent)
	if r.isBrowser(ctx, p.Agent) {
		// The agent chose the browser as their phone: the SIP phone's registration is answered but not kept, and
		// the phone is reachable again from its first REGISTER after the agent leaves the browser.
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
		_ = tx.Respond(res)
		r.log.Info("phone registration not kept: the agent uses the browser phone", zap.String("agent", p.Agent))
		return
	}
	var until time.Time
	if expires == 0 || contact.Address.Wildcard {
		if err := r.rdb.Del(ctx, key).Err(); err != nil {
			respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
			return
		}
	} else {
		until = time.Now().Add(time.Duration(expires) * time.Second)
		uri := contact.Address.Clone()
		uri.UriParams = contact.Address.UriParams.Clone()
		pipe := r.rdb.TxPipeline()
		pipe.HSet(ctx, key, "uri", uri.String(), "user", p.User, "src", req.Source(), "until", until.UnixMilli())
		pipe.PExpireAt(ctx, key, until)
		if _, err := pipe.Exec(ctx); err != nil {
			respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
			return
		}
	}
	if err := r.q.SetPhone(ctx, p.Agent, until); err != nil {
		r.log.Warn("phone registration not told to routing", zap.Error(err))
		respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if expires > 0 {
		c := sip.ContactHeader{Address: contact.Address, Params: sip.NewParams()}
		c.Params.Add("expires", strconv.Itoa(expires))
		res.AppendHeader(&c)
	}
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	_ = tx.Respond(res)
	r.log.Info("phone registered", zap.String("agent", p.Agent), zap.Int("expires", expires))
}

// lookup finds where the agent's phone is.
func (r *registrar) lookup(ctx context.Context, agent string) (sip.Uri, error) {
	v, err := r.rdb.HGet(ctx, r.key("phone", agent), "uri").Result()
	if errors.Is(err, redis.Nil) {
		return sip.Uri{}, ErrNotRegistered
	}
	if err != nil {
		return sip.Uri{}, err
	}
	var u sip.Uri
	if err := sip.ParseUri(v, &u); err != nil {
		return sip.Uri{}, fmt.Errorf("sip: stored binding %q: %w", v, err)
	}
	return u, nil
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// bindBrowser makes the agent's browser phone on this node their phone binding (kind "browser"), for browserTTL;
// it replaces a SIP phone's binding, which comes back only with that phone's next REGISTER after the agent leaves
// the browser.
func (r *registrar) bindBrowser(ctx context.Context, agent string, uri sip.Uri) error {
	until := time.Now().Add(browserTTL)
	key := r.key("phone", agent)
	pipe := r.rdb.TxPipeline()
	pipe.Del(ctx, key)
	pipe.HSet(ctx, key, "uri", uri.String(), "user", uri.User, "kind", "browser", "until", until.UnixMilli())
	pipe.PExpireAt(ctx, key, until)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("sip: browser phone binding: %w", err)
	}
	return r.q.SetPhone(ctx, agent, until)
}

// unbindBrowser removes the agent's binding if it is still this browser phone's.
func (r *registrar) unbindBrowser(ctx context.Context, agent string, uri sip.Uri) error {
	key := r.key("phone", agent)
	cur, err := r.rdb.HGet(ctx, key, "uri").Result()
	if errors.Is(err, redis.Nil) || (err == nil && cur != uri.String()) {
		return nil // a newer binding (another node's browser phone, or a SIP phone)
	}
	if err != nil {
		return err
	}
	if err := r.rdb.Del(ctx, key).Err(); err != nil {
		return err
	}
	return r.q.SetPhone(ctx, agent, time.Time{})
}

// isBrowser reports whether the agent's binding is a browser phone's.
func (r *registrar) isBrowser(ctx context.Context, agent string) bool {
	kind, err := r.rdb.HGet(ctx, r.key("phone", agent), "kind").Result()
	return err == nil && kind == "browser"
}
