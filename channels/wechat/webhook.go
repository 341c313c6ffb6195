package wechat

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// maxEchoStr bounds the echostr of a URL verification.
const maxEchoStr = 1024

// verify answers WeChat's URL verification (GET): an official account
// echoes echostr when signature is right; a WeCom app decrypts the echostr
// its msg_signature covers and returns the plaintext.
func (ch *Channel) verify(w http.ResponseWriter, r *http.Request) {
	a := ch.account(w, r)
	if a == nil {
		return
	}
	q := r.URL.Query()
	echo := q.Get("echostr")
	if echo == "" || len(echo) > maxEchoStr {
		refuse(w, http.StatusBadRequest, "echostr: required, at most 1024 characters")
		return
	}
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if a.cfg.Kind == KindWeCom {
		if !a.crypt.Verify(q.Get("msg_signature"), ts, nonce, echo) {
			ch.log.Warn("URL verification refused: msg_signature", zap.String("account", a.cfg.ID))
			refuse(w, http.StatusUnauthorized, "msg_signature does not match token, timestamp, nonce and echostr")
			return
		}
		plain, err := a.crypt.Decrypt(echo)
		if err != nil {
			refuse(w, http.StatusBadRequest, "echostr: "+reason(err))
			return
		}
		echo = string(plain)
	} else if !a.verifyPlain(q.Get("signature"), ts, nonce) {
		ch.log.Warn("URL verification refused: signature", zap.String("account", a.cfg.ID))
		refuse(w, http.StatusUnauthorized, "signature does not match token, timestamp and nonce")
		return
	}
	ch.log.Info("URL verified", zap.String("account", a.cfg.ID))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = io.WriteString(w, echo)
}

// verifyPlain checks the signature over token, timestamp and nonce.
func (a *account) verifyPlain(sig, ts, nonce string) bool {
	if a.crypt != nil {
		return a.crypt.Verify(sig, ts, nonce)
	}
	c := Crypter{token: a.cfg.Token}
	return c.Verify(sig, ts, nonce)
}

// account finds the path's account, or answers 404.
func (ch *Channel) account(w http.ResponseWriter, r *http.Request) *account {
	a := ch.accounts[r.PathValue("account")]
	if a == nil {
		refuse(w, http.StatusNotFound, "no WeChat account "+strconv.Quote(clip(r.PathValue("account")))+" is configured here")
	}
	return a
}

// open reads a POST's body and returns the message in it, checking the
// signature (plaintext) or msg_signature and decrypting (safe and
// compatible mode, WeCom). encrypted says how the reply must go back.
func (ch *Channel) open(w http.ResponseWriter, r *http.Request, a *account) (m *Message, encrypted bool, ok bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, ch.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			refuse(w, http.StatusRequestEntityTooLarge, "body: larger than "+strconv.FormatInt(ch.cfg.MaxBodyBytes, 10)+" bytes")
		} else {
			refuse(w, http.StatusBadRequest, "body: could not be read")
		}
		return nil, false, false
	}
	q := r.URL.Query()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	encrypted = a.cfg.Kind == KindWeCom || q.Get("encrypt_type") == "aes"
	if !encrypted {
		if !a.verifyPlain(q.Get("signature"), ts, nonce) {
			ch.log.Warn("message refused: signature", zap.String("account", a.cfg.ID))
			refuse(w, http.StatusUnauthorized, "signature does not match token, timestamp and nonce")
			return nil, false, false
		}
		if a.cfg.Mode == ModeSafe {
			ch.log.Warn("plaintext message for an account in safe mode: check the mode in the WeChat console",
				zap.String("account", a.cfg.ID))
		}
	}
	env, err := parseXML(body)
	if err != nil {
		refuse(w, http.StatusBadRequest, reason(err))
		return nil, false, false
	}
	if !encrypted {
		return env, false, true
	}
	if a.crypt == nil {
		refuse(w, http.StatusForbidden, "encrypt_type=aes, but this account has no encoding_aes_key")
		return nil, false, false
	}
	if env.Encrypt == "" {
		refuse(w, http.StatusBadRequest, "Encrypt: required in safe and compatible mode")
		return nil, false, false
	}
	if !a.crypt.Verify(q.Get("msg_signature"), ts, nonce, env.Encrypt) {
		ch.log.Warn("message refused: msg_signature", zap.String("account", a.cfg.ID))
		refuse(w, http.StatusUnauthorized, "msg_signature does not match token, timestamp, nonce and Encrypt")
		return nil, false, false
	}
	plain, err := a.crypt.Decrypt(env.Encrypt)
	if err != nil {
		ch.log.Warn("message refused: decrypt", zap.String("account", a.cfg.ID), zap.Error(err))
		refuse(w, http.StatusBadRequest, "Encrypt: "+reason(err)+" (check encoding_aes_key and app_id)")
		return nil, false, false
	}
	if m, err = parseXML(plain); err != nil {
		refuse(w, http.StatusBadRequest, "decrypted "+reason(err))
		return nil, false, false
	}
	return m, true, true
}

// answer writes a passive reply with text (encrypted when the push was),
// or "success" when text is empty.
func (ch *Channel) answer(w http.ResponseWriter, a *account, m *Message, encrypted bool, text string) {
	w.Header().Set("Cache-Control", "no-store")
	if text == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "success")
		return
	}
	now := ch.now().Unix()
	body := textReply(m.FromUserName, m.ToUserName, now, text)
	if encrypted {
		var rnd [20]byte
		if _, err := io.ReadFull(ch.rand, rnd[:]); err != nil {
			ch.log.Error("no randomness for an encrypted reply", zap.Error(err))
			_, _ = io.WriteString(w, "success")
			return
		}
		enc := a.crypt.Encrypt(body, [16]byte(rnd[:16]))
		ts := strconv.FormatInt(now, 10)
		nonce := strconv.FormatUint(uint64(binary.BigEndian.Uint32(rnd[16:])), 10)
		body = encryptedReply(enc, a.crypt.Sign(ts, nonce, enc), ts, nonce)
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	_, _ = w.Write(body)
}

// reason is an error's text without the package prefix.
func reason(err error) string { return strings.TrimPrefix(err.Error(), "wechat: ") }

// refuse answers a request we do not process with a JSON error naming the
// problem (WeChat only looks at the status; people and logs read the body).
func refuse(w http.ResponseWriter, status int, msg string) {
	code := map[int]string{http.StatusBadRequest: "bad_request", http.StatusUnauthorized: "bad_signature",
		http.StatusNotFound: "unknown_account", http.StatusMethodNotAllowed: "method_not_allowed",
		http.StatusRequestEntityTooLarge: "too_large", http.StatusServiceUnavailable: "unavailable"}[status]
	if code == "" {
		code = "refused"
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]string{"error": code, "message": "wechat: " + strings.ToValidUTF8(msg, "?")})
}
