package media

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// A Pacer sends the next 20 ms frame of every paced leg (playing a Player or a HoldStream) on each tick, from a few
// sharded sender loops (about one per core), not a goroutine and ticker per call. Each loop stamps each leg's own
// header on the shared payload in a buffer of its own. Ticks are counted from the pacer's start on the monotonic
// clock; a loop that wakes late sends the missed ticks' frames at once (up to 200 ms of them; beyond that it skips,
// and the time skipped still advances the legs' timestamps).
type Pacer struct {
	log    *zap.Logger
	epoch  int64 // clock() at tick 0
	shards []*shard

	mu   sync.Mutex // membership: shards' legs and each leg's pShard/pIdx
	next int
}

// The send-interval histogram: 0-100 ms in buckets of 250 µs, then one for 100 ms and over.
// maxCatchUp is how many ticks a late sender loop sends at once.
const maxCatchUp = 10

const (
	histWidth   = 250 * time.Microsecond
	histBuckets = 401
)

type shard struct {
	mu      sync.Mutex
	legs    []*Leg
	scratch []*Leg // the shard loop's copy of legs for one tick
	buf     [1500]byte

	ticks, late, sent atomic.Uint64
	active            atomic.Int64 // legs sent to on the last tick
	hist              [histBuckets]atomic.Uint64
	_                 [64]byte // keep shards' counters off each other's cache lines
}

// PacerStats describes a pacer's work since it started.
type PacerStats struct {
	Legs        int           // legs on the pacer (paced or not)
	Active      int           // legs sent a packet on the last tick
	Ticks       uint64        // ticks run, summed over shards
	LateTicks   uint64        // ticks run late (after the next was due): caught up in a burst, or skipped beyond 200 ms
	Sent        uint64        // packets sent
	Intervals   uint64        // send intervals measured (between a leg's packets of consecutive ticks)
	IntervalP50 time.Duration // percentiles as the upper bound of their 250 µs bucket
	IntervalP99 time.Duration
	IntervalMax time.Duration // over 100 ms shows as 100.25 ms
}

// NewPacer makes a pacer with shards sender loops (0 or less: one per core, runtime.GOMAXPROCS); log may be nil.
func NewPacer(shards int, log *zap.Logger) *Pacer {
	if log == nil {
		log = zap.NewNop()
	}
	if shards < 1 {
		shards = runtime.GOMAXPROCS(0)
	}
	p := &Pacer{log: log, epoch: clock(), shards: make([]*shard, shards)}
	for i := range p.shards {
		p.shards[i] = &shard{}
	}
	return p
}

// Run runs the sender loops until ctx ends, and returns nil then.
func (p *Pacer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, s := range p.shards {
		wg.Go(func() { p.runShard(ctx, s) })
	}
	wg.Wait()
	return nil
}

func (p *Pacer) runShard(ctx context.Context, s *shard) {
	k := uint64(max(0, clock()-p.epoch) / int64(tick))
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		t.Reset(time.Duration(p.epoch + int64(k+1)*int64(tick) - clock()))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := uint64((clock() - p.epoch) / int64(tick))
		from := k + 1
		if now > from {
			// Woke late: send the missed ticks' frames too, as a burst, up to maxCatchUp of them; older ones are
			// skipped (their time still advances the legs' timestamps).
			s.late.Add(now - from)
			if now-from >= maxCatchUp {
				from = now - maxCatchUp + 1
			}
		}
		k = max(now, k+1)

		s.mu.Lock()
		s.scratch = append(s.scratch[:0], s.legs...)
		s.mu.Unlock()
		var sent, active uint64
		for j := from; j <= k; j++ {
			active = 0
			s.ticks.Add(1)
			at := p.epoch + int64(j)*int64(tick)
			for _, l := range s.scratch {
				iv, ok := l.paced(j, at, s.buf[:])
				if !ok {
					continue
				}
				sent++
				active++
				if iv > 0 {
					s.hist[min(iv/int64(histWidth), histBuckets-1)].Add(1)
				}
			}
		}
		clear(s.scratch)
		s.sent.Add(sent)
		s.active.Store(int64(active))
	}
}

// Add puts l on the pacer (a leg is on at most one; adding twice does nothing). Close takes it off.
func (p *Pacer) Add(l *Leg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l.pShard >= 0 {
		return
	}
	i := p.next
	p.next = (p.next + 1) % len(p.shards)
	s := p.shards[i]
	s.mu.Lock()
	l.pShard, l.pIdx = i, len(s.legs)
	s.legs = append(s.legs, l)
	s.mu.Unlock()
	l.pacer.Store(p)
}

// Remove takes l off the pacer; the shard may send it one last packet if its tick is under way.
func (p *Pacer) Remove(l *Leg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l.pShard < 0 || l.pacer.Load() != p {
		return
	}
	s := p.shards[l.pShard]
	s.mu.Lock()
	last := len(s.legs) - 1
	moved := s.legs[last]
	s.legs[l.pIdx] = moved
	moved.pIdx = l.pIdx
	s.legs[last] = nil
	s.legs = s.legs[:last]
	s.mu.Unlock()
	l.pShard, l.pIdx = -1, 0
	l.pacer.Store(nil)
}

// Stats returns the pacer's counters and send-interval percentiles.
func (p *Pacer) Stats() PacerStats {
	var st PacerStats
	var hist [histBuckets]uint64
	for _, s := range p.shards {
		s.mu.Lock()
		st.Legs += len(s.legs)
		s.mu.Unlock()
		st.Active += int(s.active.Load())
		st.Ticks += s.ticks.Load()
		st.LateTicks += s.late.Load()
		st.Sent += s.sent.Load()
		for i := range hist {
			hist[i] += s.hist[i].Load()
		}
	}
	for _, n := range hist {
		st.Intervals += n
	}
	if st.Intervals == 0 {
		return st
	}
	var cum uint64
	for i, n := range hist {
		if n == 0 {
			continue
		}
		cum += n
		d := time.Duration(i+1) * histWidth // the bucket's upper bound
		if st.IntervalP50 == 0 && cum*2 >= st.Intervals {
			st.IntervalP50 = d
		}
		if st.IntervalP99 == 0 && cum*100 >= st.Intervals*99 {
			st.IntervalP99 = d
		}
		st.IntervalMax = d
	}
	return st
}
