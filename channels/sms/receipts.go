package sms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lianxin/lianxin/channels/sms/smpp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// tracking remembers which contact each message id of our outgoing SMS
// belongs to, so that delivery receipts update the reply's status.
type tracking interface {
	// start begins tracking an SMS of n parts for contact tn; a non-empty
	// sid names it, so that parts sent by several tries of one outbox job
	// are one SMS.
	start(tn string, n int, sid string) *tracked
	add(tr *tracked, id string)
	stop(tr *tracked, n int)
	// receipt files a receipt; ok is false for ids we do not know, err
	// says the store did not answer (ask for the receipt again).
	receipt(r smpp.Receipt) (st trackStatus, ok bool, err error)
	reported(id string)
}

var (
	_ tracking = (*tracker)(nil)
	_ tracking = (*sharedTracker)(nil)
)

// WithSharedReceipts keeps the message ids of outgoing SMS in Redis (under
// prefix, e.g. "{lianxin}:"), so a receipt the SMS centre sends over any
// node's bind, or a provider's delivery report pushed to any node, finds its
// contact, also after a restart [in this node's memory]. The provider each
// contact's SMS came through is kept there too.
func WithSharedReceipts(rdb redis.UniversalClient, prefix string) Option {
	return func(g *Gateway) {
		g.tracker = &sharedTracker{rdb: rdb, keys: []string{prefix}, log: g.log, ttl: receiptTTL}
		g.memo = &redisMemo{rdb: rdb, prefix: prefix}
	}
}

// receiptTTL is how long we wait for receipts: SMS centres give up
// delivering after a day or two.
const receiptTTL = 72 * time.Hour

// trackTimeout bounds one Redis call of the tracker, which runs on the
// SMPP reader.
const trackTimeout = 2 * time.Second

// sharedTracker is tracking in Redis: smsr:<message id> → send id, and
// smso:<send id> holds the contact, the number of parts and each part's
// status.
type sharedTracker struct {
	rdb  redis.UniversalClient
	keys []string
	log  *zap.Logger
	ttl  time.Duration
}

func (t *sharedTracker) p(k string) string { return t.keys[0] + k }

func (t *sharedTracker) start(tn string, n int, sid string) *tracked {
	if sid == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		sid = hex.EncodeToString(b[:])
	}
	return &tracked{tn: tn, expect: n, sid: sid, parts: map[string]string{}}
}

func (t *sharedTracker) add(tr *tracked, id string) {
	if id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), trackTimeout)
	defer cancel()
	o := t.p("smso:" + tr.sid)
	pipe := t.rdb.TxPipeline()
	pipe.HSet(ctx, o, "tn", tr.tn, "expect", tr.expect, "p:"+strings.ToLower(id), "")
	pipe.Expire(ctx, o, t.ttl)
	pipe.Set(ctx, t.p("smsr:"+strings.ToLower(id)), tr.sid, t.ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		t.log.Warn("receipt tracking not stored; its receipt will only be logged", zap.Error(err))
	}
}

func (t *sharedTracker) stop(tr *tracked, n int) {
	if n == tr.expect {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), trackTimeout)
	defer cancel()
	if err := t.rdb.HSet(ctx, t.p("smso:"+tr.sid), "expect", n).Err(); err != nil {
		t.log.Warn("receipt tracking not updated", zap.Error(err))
	}
}

// receiptScript files a receipt. ARGV: the part's status ("" while not
// final), then the candidate ids. Returns {contact, overall status, id}, or
// nothing for ids we do not know.
var receiptScript = redis.NewScript(`
local P, status = KEYS[1], ARGV[1]
local sid, id
for i = 2, #ARGV do
  sid = redis.call('GET', P .. 'smsr:' .. ARGV[i])
  if sid then id = ARGV[i] break end
end
if not sid then return {} end
local k = P .. 'smso:' .. sid
if status ~= '' then redis.call('HSET', k, 'p:' .. id, status) end
local flat = redis.call('HGETALL', k)
local h, parts = {}, {}
for i = 1, #flat, 2 do
  if string.sub(flat[i], 1, 2) == 'p:' then parts[#parts + 1] = flat[i + 1] else h[flat[i]] = flat[i + 1] end
end
local out = ''
if h.reported ~= '1' then
  local all = true
  for _, v in ipairs(parts) do
    if v == 'failed' then out = 'failed' break end
    all = all and v == 'delivered'
  end
  if out == '' and all and #parts >= tonumber(h.expect or '0') then out = 'delivered' end
end
return {h.tn or '', out, id}
`)

func (t *sharedTracker) receipt(r smpp.Receipt) (trackStatus, bool, error) {
	status := ""
	if r.Final() {
		status = "failed"
		if r.Delivered() {
			status = "delivered"
		}
	}
	args := []any{status}
	for _, c := range idTwins(r.ID) {
		args = append(args, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), trackTimeout)
	defer cancel()
	res, err := receiptScript.Run(ctx, t.rdb, t.keys, args...).StringSlice()
	if err != nil {
		return trackStatus{}, false, fmt.Errorf("sms: receipt %s not filed: %w", r.ID, err)
	}
	if len(res) < 3 {
		return trackStatus{}, false, nil
	}
	return trackStatus{tn: res[0], status: res[1]}, true, nil
}

func (t *sharedTracker) reported(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), trackTimeout)
	defer cancel()
	for _, c := range idTwins(id) {
		sid, err := t.rdb.Get(ctx, t.p("smsr:"+c)).Result()
		if err == nil {
			_ = t.rdb.HSet(ctx, t.p("smso:"+sid), "reported", 1).Err()
			return
		}
	}
}

// idTwins is an id as given and as its hexadecimal or decimal twin: many
// SMSCs answer submit_sm in hex and write receipts in decimal.
func idTwins(id string) []string {
	id = strings.ToLower(id)
	out := []string{id}
	if n, err := strconv.ParseUint(id, 10, 64); err == nil {
		out = append(out, strconv.FormatUint(n, 16))
	}
	if n, err := strconv.ParseUint(id, 16, 64); err == nil {
		out = append(out, strconv.FormatUint(n, 10))
	}
	return out
}
