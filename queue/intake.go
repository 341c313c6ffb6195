package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// chinaTime is the hotline's clock for tracking-number dates (UTC+8, no DST).
var chinaTime = time.FixedZone("CST", 8*3600)

// Receipt tells a channel what became of an intake.
type Receipt struct {
	TrackingNo string
	// Duplicate is true when the idempotency key was seen before: nothing new
	// was queued and TrackingNo is the earlier contact's.
	Duplicate bool
	// Joined is true when Receive added the message to the citizen's open
	// contact instead of starting a new one.
	Joined bool
}

// Enqueue queues a new contact and, in the same script, offers it to an agent
// if one is available. idemKey, when not empty, makes a retry return the
// first contact instead of queuing a second; it should name the provider and
// its message id (e.g. "wechat:gh_123:MsgId"). A retry with the same key but a
// different request fails with ErrIdempotencyConflict.
//
// A nil error means the contact is durably in Redis (as durable as Redis is
// configured to be): only then may a channel acknowledge its provider.
func (q *Queue) Enqueue(ctx context.Context, in Intake, idemKey string) (Receipt, error) {
	return q.enqueue(ctx, in, idemKey, "", "", false)
}

// enqueue is Enqueue; node and callID are set for a call.
func (q *Queue) enqueue(ctx context.Context, in Intake, idemKey, node, callID string, held bool) (Receipt, error) {
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
	prio := max(def.Priority, in.Priority)
	ms := now.UnixMilli()
	rank := int64(9-prio)*1e13 + ms
	date, floor := q.seqFloor(now)
	kind, text := alertArgs(in)
	heldArg := "0" // always sent: the once id must stay the last argument
	if held {
		heldArg = "1"
	}
	res, err := q.acked(ctx, q.s.enqueue, idemKey, IntakeHash(in), data, in.Queue, string(in.Channel), prio,
		rank, ms, date, historyKey(in), node, callID, floor, kind, text, heldArg).StringSlice()
	if err != nil {
		return Receipt{}, fmt.Errorf("queue: enqueue: %w", err)
	}
	q.issued(res[0])
	r := Receipt{TrackingNo: res[0], Duplicate: res[1] != "created"}
	if res[1] == "conflict" {
		return r, ErrIdempotencyConflict
	}
	return r, nil
}

func (q *Queue) check(in *Intake) (Def, error) {
	if !in.Channel.Valid() {
		return Def{}, fmt.Errorf("%w: unknown channel %q", ErrInvalid, in.Channel)
	}
	def, ok := q.queues[in.Queue]
	if !ok {
		return Def{}, fmt.Errorf("%w: unknown queue %q", ErrInvalid, in.Queue)
	}
	if in.Priority < 0 || in.Priority > 9 {
		return Def{}, fmt.Errorf("%w: priority %d is outside 0–9", ErrInvalid, in.Priority)
	}
	if in.RequestType != "" && !in.RequestType.Valid() {
		return Def{}, fmt.Errorf("%w: unknown request type %q", ErrInvalid, in.RequestType)
	}
	for _, s := range []string{in.Line, in.Citizen.Address, in.Subject, in.Text, in.Citizen.Name} {
		if !utf8.ValidString(s) {
			return Def{}, fmt.Errorf("%w: text is not valid UTF-8", ErrInvalid)
		}
	}
	return def, nil
}

// IntakeHash identifies a request for idempotency: the same intake received
// at another moment is the same request, even if its sender checked out
// otherwise the second time (a DNS answer that came back). A key reused
// with an intake of another hash is a conflict (ErrIdempotencyConflict).
func IntakeHash(in Intake) string {
	in.ReceivedAt = time.Time{}
	in.SenderAuth = nil
	b, _ := json.Marshal(in)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// historyKey links one citizen's contacts across channels: by phone number
// when known (calls, SMS and most letters carry one), else by e-mail, else by
// the channel's own address.
func historyKey(in Intake) string {
	switch {
	case in.Citizen.Phone != "":
		return "tel:" + in.Citizen.Phone
	case in.Citizen.Email != "":
		return "mail:" + strings.ToLower(in.Citizen.Email)
	case in.Citizen.Address != "":
		return string(in.Channel) + ":" + in.Citizen.Address
	}
	return ""
}

// seqFloor is the date of a tracking number issued now and the least
// sequence it may have: the milliseconds since midnight (China time), or one
// above the last number this node was given today if that is higher. Redis's
// daily counter normally runs ahead of both; the floor matters when the
// counter went back (a lost second of appendfsync everysec, an embedded store
// that restarted empty): numbers issued before the loss are below the clock
// now unless a burst ran the counter ahead of it, and those this node issued
// are below its memory.
func (q *Queue) seqFloor(now time.Time) (string, int64) {
	t := now.In(chinaTime)
	date := t.Format("060102")
	y, m, d := t.Date()
	floor := t.Sub(time.Date(y, m, d, 0, 0, 0, 0, chinaTime)).Milliseconds()
	q.last.Lock()
	if q.last.date == date && q.last.seq+1 > floor {
		floor = q.last.seq + 1
	}
	q.last.Unlock()
	return date, floor
}

// issued remembers tn if it is the highest number this node was given for
// its day.
func (q *Queue) issued(tn string) {
	if len(tn) < 8 {
		return
	}
	seq, err := strconv.ParseInt(tn[6:len(tn)-1], 10, 64)
	if err != nil {
		return
	}
	q.last.Lock()
	defer q.last.Unlock()
	switch {
	case q.last.date == tn[:6] && seq > q.last.seq:
		q.last.seq = seq
	case q.last.date < tn[:6]:
		q.last.date, q.last.seq = tn[:6], seq
	}
}

// ValidTrackingNo reports whether s looks like a tracking number: 13 or more
// digits whose last is a Luhn check digit. Numbers issued now have 15:
// YYMMDD (China time), an eight-digit daily sequence and the check digit;
// older ones had a six-digit sequence. It catches a misread digit before
// any lookup.
func ValidTrackingNo(s string) bool {
	if len(s) < 13 || len(s) > 20 {
		return false
	}
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// contactFromFields builds a Contact from the fields of its Redis hash (or of
// an event that carries them).
func contactFromFields(f map[string]string) (*Contact, error) {
	c := &Contact{TrackingNo: f["tn"]}
	// An event's contact may be without its intake (one already forgotten,
	// or read from the stream's past: see Queue.loadContacts).
	if d, ok := f["d"]; ok || f["type"] == "" {
		if err := json.Unmarshal([]byte(d), &c.Intake); err != nil {
			return nil, fmt.Errorf("queue: contact %s: bad data: %w", c.TrackingNo, err)
		}
	}
	c.State = ContactState(f["state"])
	c.Agent = f["agent"]
	c.Offers, _ = strconv.Atoi(f["offers"])
	c.Queue = f["queue"]
	c.Priority, _ = strconv.Atoi(f["prio"])
	if rt := f["rtype"]; rt != "" {
		c.RequestType = RequestType(rt)
	}
	c.Outcome = Outcome(f["outcome"])
	c.Note = f["note"]
	c.MessageCount, _ = strconv.Atoi(f["msgs"])
	if t := msTime(f["queued"]); t != nil {
		c.QueuedAt = *t
	}
	c.OfferedAt = msTime(f["offered"])
	c.AssignedAt = msTime(f["assigned"])
	c.EndedAt = msTime(f["ended"])
	c.ClosedAt = msTime(f["closed"])
	c.Node, c.CallID, c.HangupBy = f["cnode"], f["call"], f["by"]
	c.Callback = f["callback"] == "1"
	c.CallbackPhone = f["cbphone"]
	c.CallbackTries, _ = strconv.Atoi(f["cbtries"])
	c.OnHold = f["hold_since"] != ""
	c.WaitSeconds = msSeconds(f["wait_ms"])
	c.TalkSeconds = msSeconds(f["talk_ms"])
	c.HoldSeconds = msSeconds(f["hold_ms"])
	transferFromFields(c, f)
	ivrFields(c, f)
	return c, nil
}

func msSeconds(s string) float64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return float64(n) / 1000
}

func msTime(s string) *time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return nil
	}
	t := time.UnixMilli(n).UTC()
	return &t
}
