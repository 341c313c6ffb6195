package archive

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParsePeriod(t *testing.T) {
	for _, c := range []struct {
		kind, in, name, label string
		start                 string
		days                  int
	}{
		{Day, "2026-11-30", "2026-11-30", "2026年11月30日", "2026-11-30", 1},
		{Week, "2026-W49", "2026-W49", "2026年第49周（11月30日至12月6日）", "2026-11-30", 7},
		{Week, "2026-12-03", "2026-W49", "2026年第49周（11月30日至12月6日）", "2026-11-30", 7},
		{Week, "2027-01-01", "2026-W53", "2026年第53周（12月28日至1月3日）", "2026-12-28", 7},
		{Month, "2026-02", "2026-02", "2026年2月", "2026-02-01", 28},
	} {
		p, err := ParsePeriod(c.kind, c.in)
		require.NoError(t, err, c.in)
		require.Equal(t, c.name, p.Name)
		require.Equal(t, c.label, p.Label)
		require.Equal(t, c.start, p.Start.Format("2006-01-02"))
		require.Equal(t, 8*3600, func() int { _, off := p.Start.Zone(); return off }(), "China time")
		require.Equal(t, time.Duration(c.days)*24*time.Hour, p.End.Sub(p.Start))
	}
	for _, c := range [][2]string{{Day, "2026-13-01"}, {Day, "2026-11-31"}, {Day, "20261130"}, {Week, "2026-W54"},
		{Week, "2026-W00"}, {Month, "2026-00"}, {Month, "2026-1"}, {"year", "2026"}, {Day, ""}} {
		_, err := ParsePeriod(c[0], c[1])
		require.Error(t, err, "%s %s", c[0], c[1])
	}
}

func TestAxis(t *testing.T) {
	for n, want := range map[int][2]int{0: {4, 4}, 3: {3, 3}, 7: {8, 4}, 45: {50, 5}, 400: {400, 4}, 1234: {1250, 5}} {
		top, ticks := axis(n)
		require.Equal(t, want, [2]int{top, ticks}, "axis(%d)", n)
	}
}

func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"2026-11-30", "2026-W49", "2026-11", "2026-W53", "0000-01-01", "9999-W52", "2026-02-29"} {
		f.Add(Day, s)
		f.Add(Week, s)
		f.Add(Month, s)
	}
	f.Fuzz(func(t *testing.T, kind, s string) {
		p, err := ParsePeriod(kind, s)
		if err != nil {
			return
		}
		if !p.Start.Before(p.End) {
			t.Fatalf("%s %q: empty period %v", kind, s, p)
		}
		again, err := ParsePeriod(kind, p.Name)
		if err != nil || !again.Start.Equal(p.Start) || !again.End.Equal(p.End) {
			t.Fatalf("%s %q: its name %q does not read back: %v %v", kind, s, p.Name, again, err)
		}
	})
}
