package clusters

import (
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// background is a day and more of steady contacts: the corpus's contacts
// of their own, each coming back now and then (about 40 an hour in all),
// and one steady busy topic (公积金 questions, about 8 an hour) that is
// never a burst however many it brings.
func background(t testing.TB, start time.Time, hours int) []Contact {
	var pool []Contact
	for _, l := range readCorpus(t) {
		if l.group == "-" {
			pool = append(pool, l.c)
		}
	}
	busy := []string{"请问公积金提取买房需要哪些材料", "公积金提取需要什么材料", "提取公积金买房要带哪些证件",
		"买房提取公积金的材料有哪些", "公积金提取买房怎么办理", "我想提取公积金买房，请问要准备什么"}
	r := rand.New(rand.NewPCG(7, 11))
	var out []Contact
	end := start.Add(time.Duration(hours) * time.Hour)
	for at := start; at.Before(end); at = at.Add(time.Duration(r.ExpFloat64() * float64(time.Hour) / 48)) {
		var c Contact
		if r.Float64() < 8.0/48 {
			c = Contact{Line: "12345", Text: busy[r.IntN(len(busy))]}
		} else {
			c = pool[r.IntN(len(pool))]
		}
		c.At = at
		c.TrackingNo = "bg" + at.Format("150405.000")
		out = append(out, c)
	}
	return out
}

func run(c *Clusterer, cs []Contact) []*Alert {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].At.Before(cs[j].At) })
	var alerts []*Alert
	for _, x := range cs {
		if _, a := c.Add(x); a != nil {
			alerts = append(alerts, a)
		}
	}
	return alerts
}

// TestSteadyBackgroundNoAlert: 30 hours of steady contacts, a busy steady
// topic among them, raise no alert.
func TestSteadyBackgroundNoAlert(t *testing.T) {
	start := corpusStart.Add(-30 * time.Hour)
	bg := background(t, start, 30)
	c := New(Options{}, start)
	alerts := run(c, bg)
	for _, a := range alerts {
		t.Logf("alert: %s", a.Text)
	}
	require.Empty(t, alerts)
	// The busy topic is one group, with its usual rate known.
	busy := c.Clusters(start.Add(30*time.Hour), 100)
	require.NotEmpty(t, busy, "the steady busy topic forms a group")
	require.Contains(t, busy[0].Label, "公积金")
	require.GreaterOrEqual(t, busy[0].Recent, 10, "busy enough to pass MinCount: only its usual rate keeps it quiet")
	t.Logf("busiest group: %q, %d in 2 h, usual %.1f an hour, %d contacts in %d h", busy[0].Label, busy[0].Recent,
		busy[0].UsualPerHour, len(bg), 30)
}

// TestBurstRaisesOneAlert: the same background, and 停水 in 武侯区 (the
// corpus's water group, 30 contacts in under 2 hours) at its end: exactly
// one alert, naming the district and the problem.
func TestBurstRaisesOneAlert(t *testing.T) {
	start := corpusStart.Add(-24 * time.Hour)
	cs := background(t, start, 30)
	var burst []Contact
	for _, l := range readCorpus(t) {
		if l.group == "water_wuhou" {
			// The corpus's times (minute 180–290) moved to the 27th hour.
			l.c.At = start.Add(27*time.Hour + l.c.At.Sub(corpusStart) - 3*time.Hour)
			burst = append(burst, l.c)
		}
	}
	require.Len(t, burst, 30)
	c := New(Options{}, start)
	alerts := run(c, append(cs, burst...))
	require.Len(t, alerts, 1, "exactly one alert")
	a := alerts[0]
	t.Logf("alert: %s (usual %.2f an hour; samples: %q)", a.Text, a.Cluster.UsualPerHour, a.Cluster.Samples[0].Text)
	require.True(t, strings.HasPrefix(a.Text, "2 小时内 "), a.Text)
	require.Contains(t, a.Text, "武侯区")
	require.Contains(t, a.Text, "停水")
	require.GreaterOrEqual(t, a.Cluster.Recent, 10)
	require.NotEmpty(t, a.Cluster.Samples)
	for _, s := range a.Cluster.Samples {
		require.Contains(t, s.Text, "水", "a sample of another topic: %q", s.Text)
	}
}
