package clusters

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAdd is the cost of grouping one contact: background is the
// corpus's steady day (a few hundred groups kept); mixed has each contact
// name a street never seen before and join halves of two texts (every
// contact shares many terms with many groups: the dearest case); distinct
// has random text, every contact a group of its own, up to MaxClusters
// (20,000 here, twice the default) kept: the most memory. It reports the heap the
// groups take per group kept.
func BenchmarkAdd(b *testing.B) {
	start := corpusStart.Add(-24 * time.Hour)
	bg := background(b, start, 24)
	r := rand.New(rand.NewPCG(3, 4))
	street := func() string {
		rs := make([]rune, 3)
		for i := range rs {
			rs[i] = rune(0x4e00 + r.IntN(0x9fa5-0x4e00))
		}
		return string(rs) + fmt.Sprintf("路%d号", r.IntN(300))
	}
	for _, tc := range []struct {
		name string
		mix  int // 0: the background's texts; 1: mixed halves; 2: random text, every contact its own group
	}{{"background", 0}, {"mixed", 1}, {"distinct", 2}} {
		b.Run(tc.name, func(b *testing.B) {
			c := New(Options{MaxClusters: 20000}, start) // twice the default: the dearer case
			at := start
			add := func(i int) {
				x := bg[i%len(bg)]
				at = at.Add(2 * time.Second)
				x.At = at
				switch tc.mix {
				case 1: // a street, the start of one text and the end of another
					a, z := []rune(x.Text), []rune(bg[r.IntN(len(bg))].Text)
					x.Text = street() + string(a[:len(a)/2]) + string(z[len(z)/2:])
				case 2:
					x.Text = street() + street() + street() + street()
				}
				c.Add(x)
			}
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			n := len(bg)
			if tc.mix > 0 {
				n = 25000
			}
			for i := range n {
				add(i)
			}
			runtime.GC()
			runtime.ReadMemStats(&m1)
			perGroup, groups := float64(m1.HeapAlloc-m0.HeapAlloc)/float64(c.Len()), c.Len()
			cpu0 := cpuTime()
			for i := 0; b.Loop(); i++ {
				add(i)
			}
			// CPU time, not wall time: the machines are shared and busy.
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(perGroup, "heapB/group")
			b.ReportMetric(float64(groups), "groups")
		})
	}
}
