package clusters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lianxin/lianxin/queue"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// AlertKind is the kind (Event.Reason) of a common-problem alert.
const AlertKind = "cluster"

// ServiceParams wire a Service.
type ServiceParams struct {
	Queue  *queue.Queue
	Redis  redis.UniversalClient
	Prefix string // the deployment's key prefix, e.g. "{lianxin}:"
	Node   string
	// Options tune the grouping (zero: defaults).
	Options Options
	// District, if set, gives a contact's district when its channel knows
	// it (a district's mailbox); "" lets the text and address say.
	District func(*queue.Contact) string
	Logger   *zap.Logger
	// LeaseTTL is how long the computing node's lease lasts unrenewed.
	// Default 15s: a node that dies is replaced within that.
	LeaseTTL time.Duration
	// Publish is how often the groups are published for every node to
	// serve. Default 10s.
	Publish time.Duration
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// Service groups contacts on one node at a time: every node runs it, the one
// holding a Redis lease computes. On taking the lease it reads the event
// stream from History ago (rebuilding the groups and their usual rates),
// then follows it; it publishes the groups to Redis every Publish and
// raises each burst's alert once (a Redis key per group, for History,
// keeps a new holder from raising it again).
type Service struct {
	p   ServiceParams
	log *zap.Logger
}

// NewService returns a Service; Run starts it.
func NewService(p ServiceParams) *Service {
	if p.LeaseTTL <= 0 {
		p.LeaseTTL = 15 * time.Second
	}
	if p.Publish <= 0 {
		p.Publish = 10 * time.Second
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	p.Options = p.Options.withDefaults()
	log := p.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Service{p: p, log: log}
}

func (s *Service) key(k string) string { return s.p.Prefix + "clusters:" + k }

// renew extends the lease if this node holds it.
var renew = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)

// Run competes for the lease until ctx ends, computing while it holds it.
func (s *Service) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		ok, err := s.p.Redis.SetNX(ctx, s.key("lease"), s.p.Node, s.p.LeaseTTL).Result()
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("common problems: lease unavailable", zap.Error(err))
		case ok:
			s.log.Info("common problems: this node computes them")
			s.lead(ctx)
			s.log.Info("common problems: lease given up")
		}
		wait(ctx, s.p.LeaseTTL/3)
	}
	return nil
}

// lead computes while the lease is renewed.
func (s *Service) lead(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel (deferred later, run first)
	defer cancel()
	wg.Add(1)
	go func() { // renew, and stop leading when the lease is lost
		defer wg.Done()
		defer cancel()
		for {
			wait(ctx, s.p.LeaseTTL/3)
			if ctx.Err() != nil {
				// Let another node take over at once.
				dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
				s.p.Redis.Eval(dctx, `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
					[]string{s.key("lease")}, s.p.Node)
				dcancel()
				return
			}
			n, err := renew.Run(ctx, s.p.Redis, []string{s.key("lease")}, s.p.Node, s.p.LeaseTTL.Milliseconds()).Int()
			if err != nil || n == 0 {
				s.log.Warn("common problems: lease lost", zap.Error(err))
				return
			}
		}
	}()

	since := s.p.Now().Add(-s.p.Options.History)
	c := New(s.p.Options, since)
	var mu sync.Mutex
	wg.Add(1)
	go func() { // publish
		defer wg.Done()
		for {
			wait(ctx, s.p.Publish)
			if ctx.Err() != nil {
				return
			}
			mu.Lock()
			snap := Snapshot{At: s.p.Now(), Node: s.p.Node, Clusters: c.Clusters(s.p.Now(), 2)}
			mu.Unlock()
			if len(snap.Clusters) > maxPublished {
				snap.Clusters = snap.Clusters[:maxPublished]
			}
			if err := s.publish(ctx, snap); err != nil && ctx.Err() == nil {
				s.log.Warn("common problems: publish failed", zap.Error(err))
			}
		}
	}()
	pos := strconv.FormatInt(since.UnixMilli(), 10) + "-0"
	_ = s.p.Queue.SubscribeQueued(ctx, pos, func(e queue.Event, ct *queue.Contact) {
		if ct == nil {
			return // gone from Redis and from the archive: it is not grouped
		}
		x := s.contact(ct, e)
		mu.Lock()
		_, a := c.Add(x)
		mu.Unlock()
		if a != nil && !x.At.Before(s.p.Now().Add(-s.p.Options.Window)) {
			s.raise(ctx, a)
		}
	})
}

// maxPublished bounds the groups published (the busiest first).
const maxPublished = 100

func (s *Service) contact(ct *queue.Contact, e queue.Event) Contact {
	x := Contact{TrackingNo: ct.TrackingNo, At: ct.QueuedAt, Line: ct.Line, Text: strings.TrimSpace(ct.Subject + " " + ct.Text)}
	if ms, _, ok := strings.Cut(e.ID, "-"); ok { // the stream's own clock: in order
		if n, err := strconv.ParseInt(ms, 10, 64); err == nil {
			x.At = time.UnixMilli(n)
		}
	}
	if ct.Location != nil {
		x.Address = ct.Location.Address
	}
	if s.p.District != nil {
		x.District = s.p.District(ct)
	}
	return x
}

// raise sends an alert to the supervisors' desks, once per group across
// nodes: a group is known by its first contact, the same when a new lease
// holder rebuilds the groups from the stream in the same order.
func (s *Service) raise(ctx context.Context, a *Alert) {
	first := a.Cluster.Label
	if len(a.Cluster.Samples) > 0 {
		first = a.Cluster.Samples[0].TrackingNo
	}
	ok, err := s.p.Redis.SetNX(ctx, s.key("alerted:"+first), a.Cluster.Label, s.p.Options.History).Result()
	if err != nil || !ok {
		return
	}
	if err := s.p.Queue.Alert(ctx, a.Cluster.Latest, AlertKind, a.Text); err != nil {
		s.log.Warn("common problems: alert not raised", zap.String("group", a.Cluster.Label), zap.Error(err))
		return
	}
	s.log.Info("common problem", zap.String("group", a.Cluster.Label), zap.Int("recent", a.Cluster.Recent),
		zap.Float64("usual_per_hour", a.Cluster.UsualPerHour))
}

// Snapshot is the groups as last published.
type Snapshot struct {
	At       time.Time `json:"at"`
	Node     string    `json:"node"`
	Clusters []Cluster `json:"clusters"`
}

func (s *Service) publish(ctx context.Context, snap Snapshot) error {
	b, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	return s.p.Redis.Set(ctx, s.key("snapshot"), b, 10*s.p.Publish+time.Minute).Err()
}

// ErrNoSnapshot: no node has published groups lately.
var ErrNoSnapshot = errors.New("clusters: no groups published")

// Load reads the groups last published (for the daily report and the
// supervisors' page), ErrNoSnapshot if none is.
func Load(ctx context.Context, rdb redis.UniversalClient, prefix string) (Snapshot, error) {
	b, err := rdb.Get(ctx, prefix+"clusters:snapshot").Bytes()
	if errors.Is(err, redis.Nil) {
		return Snapshot{}, ErrNoSnapshot
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("clusters: %w", err)
	}
	var snap Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return Snapshot{}, fmt.Errorf("clusters: bad snapshot: %w", err)
	}
	return snap, nil
}

// Handler serves GET /api/clusters: the groups last published, as JSON
// ({"at", "node", "clusters": [{id, label, district, terms, count, recent,
// usual_per_hour, first, last, latest, lines, samples, alerted}]}); put it
// behind the supervisors' check. min (query, default 2) leaves out smaller
// groups.
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		min := 2
		if v := r.URL.Query().Get("min"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100000 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_min", "message": "min: a whole number from 1"})
				return
			}
			min = n
		}
		snap, err := Load(r.Context(), s.p.Redis, s.p.Prefix)
		switch {
		case errors.Is(err, ErrNoSnapshot):
			snap = Snapshot{Clusters: []Cluster{}}
		case err != nil:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "unavailable", "message": err.Error()})
			return
		}
		out := snap.Clusters[:0:0]
		for _, c := range snap.Clusters {
			if c.Count >= min {
				out = append(out, c)
			}
		}
		snap.Clusters = out
		writeJSON(w, http.StatusOK, snap)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
