package sms

import (
	"strings"
	"sync"

	"github.com/lianxin/lianxin/channels/sms/smpp"
)

// tracker remembers which contact each message id of our outgoing SMS
// belongs to, so delivery receipts can update the reply's status. It lives
// in memory and forgets the oldest ids beyond max: a receipt that reaches
// another node, or comes after a restart, is only logged. With several nodes
// use WithSharedReceipts.
type tracker struct {
	mu   sync.Mutex
	max  int
	byID map[string]*tracked
	ring []string
	next int
	// named SMS (outbox jobs), the oldest forgotten beyond max
	bySID   map[string]*tracked
	sidRing []string
	sidNext int
}

// tracked is one outgoing SMS (all its parts).
type tracked struct {
	sid      string // its id in a shared tracker
	tn       string
	expect   int               // parts sent or being sent
	parts    map[string]string // message id → "", "delivered", "failed"
	reported bool
}

type trackStatus struct {
	tn     string
	status string // "delivered", "failed", or "" while parts are pending
}

func newTracker(max int) *tracker {
	return &tracker{max: max, byID: map[string]*tracked{}, ring: make([]string, max),
		bySID: map[string]*tracked{}, sidRing: make([]string, max)}
}

// start begins tracking an SMS of n parts for contact tn; a named one is
// found again by its sid.
func (t *tracker) start(tn string, n int, sid string) *tracked {
	if sid == "" {
		return &tracked{tn: tn, parts: map[string]string{}, expect: n}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr := t.bySID[sid]; tr != nil {
		return tr
	}
	tr := &tracked{sid: sid, tn: tn, parts: map[string]string{}, expect: n}
	if old := t.sidRing[t.sidNext]; old != "" {
		delete(t.bySID, old)
	}
	t.sidRing[t.sidNext] = sid
	t.sidNext = (t.sidNext + 1) % t.max
	t.bySID[sid] = tr
	return tr
}

// add tracks the message id of one part as its submit_sm_resp arrives.
func (t *tracker) add(tr *tracked, id string) {
	if id == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	id = strings.ToLower(id)
	tr.parts[id] = ""
	if old := t.ring[t.next]; old != "" {
		delete(t.byID, old)
	}
	t.ring[t.next] = id
	t.next = (t.next + 1) % t.max
	t.byID[id] = tr
}

// stop says only n parts went out after all.
func (t *tracker) stop(tr *tracked, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr.expect = n
}

// find looks an id up as given, and as its hexadecimal or decimal twin.
func (t *tracker) find(id string) (*tracked, string) {
	for _, c := range idTwins(id) {
		if tr := t.byID[c]; tr != nil {
			return tr, c
		}
	}
	return nil, ""
}

// receipt files a receipt. ok is false for ids we do not know; the status
// is set once the whole SMS is delivered or any part failed, until
// reported.
func (t *tracker) receipt(r smpp.Receipt) (trackStatus, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr, id := t.find(r.ID)
	if tr == nil {
		return trackStatus{}, false, nil
	}
	if r.Final() {
		st := "failed"
		if r.Delivered() {
			st = "delivered"
		}
		tr.parts[id] = st
	}
	out := trackStatus{tn: tr.tn}
	if tr.reported {
		return out, true, nil
	}
	all := true
	for _, st := range tr.parts {
		if st == "failed" {
			out.status = "failed"
			return out, true, nil
		}
		all = all && st == "delivered"
	}
	if all && len(tr.parts) >= tr.expect {
		out.status = "delivered"
	}
	return out, true, nil
}

// reported marks the SMS of id as reported to the conversation.
func (t *tracker) reported(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr, _ := t.find(id); tr != nil {
		tr.reported = true
	}
}
