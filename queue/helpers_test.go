package queue_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/lianxin/lianxin/queue/queuetest"
	"github.com/stretchr/testify/require"
)

// clock is a settable clock for tests, so offers expire without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testQueues = []queue.Def{{Name: "general", Priority: 0}, {Name: "enterprise", Priority: 5}, {Name: "labour", Priority: 0}}

type env struct {
	t     *testing.T
	ctx   context.Context
	clock *clock
	q     *queue.Queue
	srv   *queuetest.Server
	calls int // calls made, for their Call-IDs
}

func newEnv(t *testing.T, s *queuetest.Server, mod ...func(*queue.Options)) *env {
	t.Helper()
	queuetest.Flush(t, s)
	c := newClock()
	o := queue.Options{NodeID: "node-a", Queues: testQueues, OfferTimeout: 20 * time.Second, MaxMisses: 3,
		NodeTTL: 5 * time.Second, Now: c.Now}
	for _, m := range mod {
		m(&o)
	}
	q, err := queue.New(s.Client(t), o)
	require.NoError(t, err)
	return &env{t: t, ctx: context.Background(), clock: c, q: q, srv: s}
}

// node returns another node's handle on the same Redis and clock.
func (e *env) node(id string) *queue.Queue {
	q, err := queue.New(e.srv.Client(e.t), queue.Options{NodeID: id, Queues: testQueues, OfferTimeout: 20 * time.Second,
		MaxMisses: 3, NodeTTL: 5 * time.Second, Now: e.clock.Now})
	require.NoError(e.t, err)
	return q
}

func (e *env) letter(queueName, subject string) string {
	e.t.Helper()
	return e.enqueue(queue.Intake{Channel: queue.ChannelMailbox, Line: "cd-city-0001", Queue: queueName, Subject: subject,
		Citizen: queue.Citizen{Address: "a@example.cn", Email: "a@example.cn"}})
}

func (e *env) enqueue(in queue.Intake) string {
	e.t.Helper()
	r, err := e.q.Enqueue(e.ctx, in, "")
	require.NoError(e.t, err)
	require.False(e.t, r.Duplicate)
	e.clock.Add(time.Second)
	return r.TrackingNo
}

// agent connects a desk for an agent on q and makes it ready.
func (e *env) agent(q *queue.Queue, id string, skills map[string]int, caps map[queue.Channel]int) *queue.Session {
	e.t.Helper()
	if caps == nil {
		caps = map[queue.Channel]int{queue.ChannelMailbox: 1}
	}
	s, err := q.Connect(e.ctx, queue.Profile{ID: id, Name: "Agent " + id, Skills: skills, Capacity: caps})
	require.NoError(e.t, err)
	require.NoError(e.t, q.SetPresence(e.ctx, id, s.ID, queue.PresenceReady, ""))
	e.clock.Add(time.Second)
	return s
}

func (e *env) contact(tn string) *queue.Contact {
	e.t.Helper()
	c, err := e.q.Contact(e.ctx, tn)
	require.NoError(e.t, err)
	return c
}

func (e *env) requireOffered(tn, agent string) {
	e.t.Helper()
	c := e.contact(tn)
	require.Equal(e.t, queue.StateOffered, c.State, "contact %s", tn)
	require.Equal(e.t, agent, c.Agent, "contact %s", tn)
}

func (e *env) requireWaiting(tn string) {
	e.t.Helper()
	c := e.contact(tn)
	require.Equal(e.t, queue.StateWaiting, c.State, "contact %s", tn)
	require.Empty(e.t, c.Agent)
}

// finish accepts and wraps up a contact.
func (e *env) finish(agent, tn string) {
	e.t.Helper()
	require.NoError(e.t, e.q.Accept(e.ctx, agent, tn))
	require.NoError(e.t, e.q.WrapUp(e.ctx, agent, tn, queue.RequestConsultation, queue.OutcomeResolved, ""))
	e.clock.Add(time.Second)
}

var general = map[string]int{"general": 3}
