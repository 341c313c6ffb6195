package smpp

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// ErrTooManyPending: the assembler holds as many unfinished long messages
// as it may; the part should be refused temporarily.
var ErrTooManyPending = errors.New("smpp: too many long messages waiting for parts")

// Assembled is a long message put together from its parts' user data,
// joined as bytes in part order before any decoding (a UCS-2 surrogate pair
// or a GBK pair may straddle two parts).
type Assembled[T any] struct {
	Key   string
	Data  []byte
	Total int
	// Missing lists the parts that never came (1-based), when the message
	// was given up on at its deadline.
	Missing []int
	// Tags are what the caller attached to each part received, in arrival
	// order (e.g. the deliver_sm sequence numbers to answer).
	Tags []T
}

// Complete reports whether every part arrived.
func (a *Assembled[T]) Complete() bool { return len(a.Missing) == 0 }

type pending[T any] struct {
	parts    [][]byte
	got      int
	deadline time.Time
	tags     []T
}

// Assembler joins the parts of long messages, keyed by the caller (sender,
// recipient, kind and reference: a reference alone is not unique). It is not
// safe for concurrent use.
type Assembler[T any] struct {
	timeout time.Duration
	max     int
	m       map[string]*pending[T]
}

// NewAssembler returns an assembler that gives up on a message timeout after
// its first part and holds at most max unfinished messages.
func NewAssembler[T any](timeout time.Duration, max int) *Assembler[T] {
	return &Assembler[T]{timeout: timeout, max: max, m: map[string]*pending[T]{}}
}

// Len is the number of unfinished messages.
func (a *Assembler[T]) Len() int { return len(a.m) }

// Add files part c of the message key; when it completes the message, the
// message is returned and forgotten. A repeated part keeps its first bytes
// but its tag is kept too, so it gets its answer. A part whose total differs
// from its message's is an error.
func (a *Assembler[T]) Add(now time.Time, key string, c Concat, data []byte, tag T) (*Assembled[T], error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	p, ok := a.m[key]
	if !ok {
		if len(a.m) >= a.max {
			return nil, ErrTooManyPending
		}
		p = &pending[T]{parts: make([][]byte, c.Total), deadline: now.Add(a.timeout)}
		a.m[key] = p
	}
	if len(p.parts) != c.Total {
		return nil, fmt.Errorf("%w: part %d says %d parts, earlier parts said %d", ErrUDH, c.Seq, c.Total,
			len(p.parts))
	}
	p.tags = append(p.tags, tag)
	if p.parts[c.Seq-1] == nil {
		if data == nil {
			data = []byte{}
		}
		p.parts[c.Seq-1] = data
		p.got++
	}
	if p.got < len(p.parts) {
		return nil, nil
	}
	delete(a.m, key)
	return p.done(key), nil
}

func (p *pending[T]) done(key string) *Assembled[T] {
	out := &Assembled[T]{Key: key, Total: len(p.parts), Tags: p.tags}
	n := 0
	for _, b := range p.parts {
		n += len(b)
	}
	out.Data = make([]byte, 0, n)
	for i, b := range p.parts {
		if b == nil {
			out.Missing = append(out.Missing, i+1)
		}
		out.Data = append(out.Data, b...)
	}
	return out
}

// Expire gives up on the messages whose deadline has passed at now and
// returns what arrived of them, oldest deadline first.
func (a *Assembler[T]) Expire(now time.Time) []*Assembled[T] {
	var out []*Assembled[T]
	var dl []time.Time
	for k, p := range a.m {
		if !now.Before(p.deadline) {
			out = append(out, p.done(k))
			dl = append(dl, p.deadline)
			delete(a.m, k)
		}
	}
	sort.Sort(byDeadline[T]{out, dl})
	return out
}

// Drop forgets every unfinished message and returns their tags (the session
// they came on ended: the SMSC will send them again).
func (a *Assembler[T]) Drop() []T {
	var tags []T
	for k, p := range a.m {
		tags = append(tags, p.tags...)
		delete(a.m, k)
	}
	return tags
}

type byDeadline[T any] struct {
	a  []*Assembled[T]
	dl []time.Time
}

func (s byDeadline[T]) Len() int           { return len(s.a) }
func (s byDeadline[T]) Less(i, j int) bool { return s.dl[i].Before(s.dl[j]) }
func (s byDeadline[T]) Swap(i, j int) {
	s.a[i], s.a[j] = s.a[j], s.a[i]
	s.dl[i], s.dl[j] = s.dl[j], s.dl[i]
}
