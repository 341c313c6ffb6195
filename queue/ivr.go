package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Around the talk: the citizen's rating (回访评价), the IVR's own answers
// (当场解答 by the hot-topic prompt) and call recordings. Their scripts are
// loaded apart from the core ones (ivrScripts), so this file is what there is
// to read about them.

// Rating is the citizen's answer to "how did we do" after a contact.
type Rating struct {
	// Score is 1 满意 (satisfied), 2 基本满意 (mostly satisfied) or 3 不满意
	// (not satisfied): the keys the caller presses and the digits a texter
	// sends.
	Score int `json:"score"`
	// Label is the score's Chinese word.
	Label string `json:"label"`
	// At is when the citizen answered.
	At time.Time `json:"at"`
}

// RatingLabels are the Chinese words of the scores 1–3.
var RatingLabels = map[int]string{1: "满意", 2: "基本满意", 3: "不满意"}

// Recording is a call's recording in the blob store.
type Recording struct {
	SHA256 string    `json:"sha256"`
	Type   string    `json:"type"` // e.g. "audio/wav"
	At     time.Time `json:"at"`
}

// ResolvedByIVR is Contact.ResolvedBy of a caller whose question the
// hot-topic answer settled.
const ResolvedByIVR = "ivr"

type ivrScripts struct {
	rateAsk, rate, ivrResolve *redis.Script
}

// loadIVRScripts makes the IVR's scripts, and adds each to byName.
func loadIVRScripts(hs *scriptHeads, byName map[string]*redis.Script) (*ivrScripts, error) {
	s := &ivrScripts{}
	for name, dst := range map[string]**redis.Script{"rate_ask": &s.rateAsk, "rate": &s.rate, "ivr_resolve": &s.ivrResolve} {
		src, err := hs.source(name)
		if err != nil {
			return nil, err
		}
		*dst = redis.NewScript(src)
		byName[name] = *dst
	}
	return s, nil
}

// ivrFields fills what this file keeps on a contact's hash.
func ivrFields(c *Contact, f map[string]string) {
	if n, err := strconv.Atoi(f["rating"]); err == nil && RatingLabels[n] != "" {
		r := &Rating{Score: n, Label: RatingLabels[n]}
		if t := msTime(f["rated"]); t != nil {
			r.At = *t
		}
		c.Rating = r
	}
	c.RatingAsked = f["rate_asked"] != ""
	c.ResolvedBy = f["rby"]
	if f["rec_sha"] != "" {
		r := &Recording{SHA256: f["rec_sha"], Type: f["rec_type"]}
		if t := msTime(f["rec_at"]); t != nil {
			r.At = *t
		}
		c.Recording = r
	}
}

// RatingAsk is how a citizen was asked to rate a contact.
type RatingAsk struct {
	// Window is how long the answer is taken [24h].
	Window time.Duration
	// Reply, for SMS and WeChat, is the channel and address a bare "1", "2"
	// or "3" comes from (ReplyKey): that answer rates this contact.
	Reply string
	// Token, for e-mail and web letters, keys the public rating page's link
	// (NewRatingToken).
	Token string
}

// ReplyKey names a citizen on a text channel for RatingAsk.Reply and
// RateByReply: the channel and the citizen's address there.
func ReplyKey(ch Channel, address string) string {
	if len(address) > 200 {
		sum := sha256.Sum256([]byte(address))
		address = "sha256:" + hex.EncodeToString(sum[:])
	}
	return string(ch) + ":" + address
}

// AskRating records that the citizen of contact tn was asked for a rating.
// It is once per contact: first reports whether this was the first ask (a
// caller asks again after nothing: a text channel sends nothing twice).
func (q *Queue) AskRating(ctx context.Context, tn string, a RatingAsk) (first bool, err error) {
	if a.Window <= 0 {
		a.Window = 24 * time.Hour
	}
	res, err := q.run(ctx, q.ivr.rateAsk, tn, q.nowMs(), a.Window.Milliseconds(), a.Reply, a.Token).Text()
	if err != nil {
		return false, scriptError(err)
	}
	return res == "asked", nil
}

// Rate stores the rating score (1–3) of contact tn, which must have been
// asked for one (AskRating) within its window and not rated yet: otherwise
// ErrWrongState (ErrNotFound for no such contact).
func (q *Queue) Rate(ctx context.Context, tn string, score int) error {
	if tn == "" {
		return fmt.Errorf("%w: rating: no tracking number", ErrInvalid)
	}
	_, err := q.rate(ctx, tn, score, "", "", "")
	return err
}

// RateByReply rates the last contact the citizen (ReplyKey) was asked about
// and has not rated, within its window, and returns its tracking number.
// ErrNotFound: no contact of theirs waits for a rating. idemKey (the
// provider's message id, or "") makes a redelivery of the same answer
// return the same contact rather than ErrNotFound.
func (q *Queue) RateByReply(ctx context.Context, reply string, score int, idemKey string) (string, error) {
	if reply == "" {
		return "", fmt.Errorf("%w: rating: no reply key", ErrInvalid)
	}
	return q.rate(ctx, "", score, reply, "", idemKey)
}

// RateByToken rates the contact whose rating link carries token.
func (q *Queue) RateByToken(ctx context.Context, token string, score int) (string, error) {
	if token == "" {
		return "", fmt.Errorf("%w: rating: no token", ErrInvalid)
	}
	return q.rate(ctx, "", score, "", token, "")
}

// RatingByToken returns the contact a rating link's token names while its
// window is open, without rating it (ErrNotFound otherwise).
func (q *Queue) RatingByToken(ctx context.Context, token string) (*Contact, error) {
	tn, err := q.rdb.Get(ctx, q.key("rt", token)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: no rating waits for this link", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: rating link: %w", err)
	}
	return q.Contact(ctx, tn)
}

func (q *Queue) rate(ctx context.Context, tn string, score int, reply, token, idem string) (string, error) {
	if RatingLabels[score] == "" {
		return "", fmt.Errorf("%w: rating %d is not 1, 2 or 3", ErrInvalid, score)
	}
	res, err := q.run(ctx, q.ivr.rate, tn, score, q.nowMs(), reply, token, idem).Text()
	if err != nil {
		return "", scriptError(err)
	}
	return res, nil
}

// Ratings counts the ratings given, by channel and score ("voice:2" → n).
func (q *Queue) Ratings(ctx context.Context) (map[string]int64, error) {
	f, err := q.rdb.HGetAll(ctx, q.key("ratings")).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: ratings: %w", err)
	}
	out := make(map[string]int64, len(f))
	for k, v := range f {
		n, _ := strconv.ParseInt(v, 10, 64)
		out[k] = n
	}
	return out, nil
}

// ResolveCallByIVR records a caller whose question the hot-topic answer
// settled: a voice contact made closed at once with outcome resolved and
// ResolvedBy "ivr", never queued or offered; CallStats counts it as
// IVRResolved of in.Queue. The call's Call-ID makes a retry return the same
// contact; the contact AnswerCall made for the call is the one resolved.
func (q *Queue) ResolveCallByIVR(ctx context.Context, in Intake, call Call) (Receipt, error) {
	in.Channel = ChannelVoice
	if call.ID == "" {
		return Receipt{}, fmt.Errorf("%w: a call needs its Call-ID", ErrInvalid)
	}
	def, err := q.check(&in)
	if err != nil {
		return Receipt{}, err
	}
	now := q.o.Now()
	if in.ReceivedAt.IsZero() {
		in.ReceivedAt = now
	}
	data, err := json.Marshal(in)
	if err != nil {
		return Receipt{}, fmt.Errorf("queue: encode intake: %w", err)
	}
	key := callKey(call.ID)
	prio := max(def.Priority, in.Priority)
	ms := now.UnixMilli()
	date, floor := q.seqFloor(now)
	res, err := q.acked(ctx, q.ivr.ivrResolve, key, IntakeHash(in), data, in.Queue, string(in.Channel), prio,
		int64(9-prio)*1e13+ms, ms, date, historyKey(in), call.Node, call.ID, floor).StringSlice()
	if err != nil {
		return Receipt{}, fmt.Errorf("queue: resolve by the IVR: %w", scriptError(err))
	}
	q.issued(res[0])
	r := Receipt{TrackingNo: res[0], Duplicate: res[1] != "created"}
	if res[1] == "conflict" {
		return r, ErrIdempotencyConflict
	}
	return r, nil
}

// SetRecording references a call's recording (in the blob store) from its
// contact, and remembers it for the retention janitor (ExpiredRecordings).
func (q *Queue) SetRecording(ctx context.Context, tn string, r Recording) error {
	if r.At.IsZero() {
		r.At = q.o.Now()
	}
	at := r.At.UnixMilli()
	ok, err := q.rdb.Exists(ctx, q.key("c", tn)).Result()
	if err != nil {
		return fmt.Errorf("queue: recording of %s: %w", tn, err)
	}
	if ok == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, tn)
	}
	_, err = q.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, q.key("c", tn), "rec_sha", r.SHA256, "rec_type", r.Type, "rec_at", at)
		p.ZAdd(ctx, q.key("recs"), redis.Z{Score: float64(at), Member: tn})
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: recording of %s: %w", tn, err)
	}
	return nil
}

// ExpiredRecordings lists up to n contacts whose recording was made before
// cutoff, with the recording's hash, oldest first.
func (q *Queue) ExpiredRecordings(ctx context.Context, cutoff time.Time, n int64) (map[string]string, error) {
	tns, err := q.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: q.key("recs"), Start: "-inf",
		Stop: strconv.FormatInt(cutoff.UnixMilli(), 10), ByScore: true, Count: n}).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: expired recordings: %w", err)
	}
	out := make(map[string]string, len(tns))
	for _, tn := range tns {
		sha, err := q.rdb.HGet(ctx, q.key("c", tn), "rec_sha").Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("queue: expired recordings: %w", err)
		}
		out[tn] = sha
	}
	return out, nil
}

// ForgetRecording drops contact tn's reference to its recording (after the
// janitor deleted the blob).
func (q *Queue) ForgetRecording(ctx context.Context, tn string) error {
	_, err := q.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, q.key("c", tn), "rec_sha", "rec_type", "rec_at")
		p.ZRem(ctx, q.key("recs"), tn)
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: forget recording of %s: %w", tn, err)
	}
	return nil
}
