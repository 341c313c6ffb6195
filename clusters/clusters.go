// Package clusters finds common problems (共性问题) early: the contacts of the
// last hours grouped by what they are about, and an alert when a group grows
// faster than its usual rate ("2 小时内 37 件 武侯区 停水").
//
// A Clusterer reads contacts one at a time, in order of arrival (single
// pass, incremental): each joins the most similar group whose similarity
// passes Threshold, or starts one. Similarity is the cosine of TF-IDF
// weighted character bigrams (text.go) between the contact and the group's
// centroid, lowered when their districts differ and raised when they are
// the same, and raised a little for the same line (a topic hotline).
// Memory is bounded: each group keeps at most MaxTerms terms and a few
// sample texts, groups quiet for History are dropped, and at most
// MaxClusters groups are kept (the longest quiet go first). The cost of
// one contact is a lookup of its bigrams in an index of the groups' terms.
//
// Service runs a Clusterer on the node that holds a Redis lease, fed from
// the event stream, and publishes the groups for every node to serve.
package clusters

import (
	"cmp"
	"container/list"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Contact is what grouping reads of a contact.
type Contact struct {
	TrackingNo string
	At         time.Time
	// Line is the number or mailbox the contact came in on.
	Line string
	// District, when the channel knows it (a district's mailbox); else it
	// is looked for in Address and Text.
	District string
	Address  string
	Text     string
}

// Options tune a Clusterer. Zero values take the defaults.
type Options struct {
	// Window is the span in which a burst is counted. Default 2h.
	Window time.Duration
	// History is how far back a group's usual rate is measured, and how
	// long a quiet group is kept. Default 24h.
	History time.Duration
	// MinCount is the least number of contacts in Window for an alert.
	// Default 10.
	MinCount int
	// Factor: a group alerts when its count in Window is at least Factor
	// times what its usual rate predicts. Default 3.
	Factor float64
	// Threshold is the least similarity for a contact to join a group.
	// Default 0.3.
	Threshold float64
	// MaxClusters bounds the groups kept. Default 10000 (about 56 MB at
	// 5.6 KB a group of distinct text, BenchmarkAdd/distinct).
	MaxClusters int
	// MaxTerms bounds the terms of a group's centroid. Default 64.
	MaxTerms int
	// Samples is how many sample texts a group keeps. Default 5.
	Samples int
}

func (o Options) withDefaults() Options {
	if o.Window <= 0 {
		o.Window = 2 * time.Hour
	}
	if o.History <= 0 {
		o.History = 24 * time.Hour
	}
	if o.MinCount <= 0 {
		o.MinCount = 10
	}
	if o.Factor <= 0 {
		o.Factor = 3
	}
	if o.Threshold <= 0 {
		o.Threshold = 0.3
	}
	if o.MaxClusters <= 0 {
		o.MaxClusters = 10000
	}
	if o.MaxTerms <= 0 {
		o.MaxTerms = 64
	}
	if o.Samples <= 0 {
		o.Samples = 5
	}
	return o
}

// Sample is one contact of a group, as a supervisor reads it.
type Sample struct {
	TrackingNo string    `json:"tracking_no"`
	At         time.Time `json:"at"`
	Text       string    `json:"text"`
}

// Cluster is a group of contacts about the same thing, as reported.
type Cluster struct {
	ID string `json:"id"`
	// Label names the group: its district and its heaviest terms.
	Label    string   `json:"label"`
	District string   `json:"district,omitempty"`
	Terms    []string `json:"terms"`
	// Count is its contacts in History; Recent those in Window.
	Count  int `json:"count"`
	Recent int `json:"recent"`
	// UsualPerHour is its rate before Window (0 for a new group).
	UsualPerHour float64   `json:"usual_per_hour"`
	First        time.Time `json:"first"`
	Last         time.Time `json:"last"`
	// Latest is the tracking number of its newest contact.
	Latest  string   `json:"latest"`
	Lines   []string `json:"lines,omitempty"`
	Samples []Sample `json:"samples"`
	Alerted bool     `json:"alerted"`
}

// Alert is a group that grew faster than its usual rate.
type Alert struct {
	Cluster Cluster
	// Text is the alert's line for supervisors: "2 小时内 37 件 武侯区 停水".
	Text string
}

type cluster struct {
	id       uint64
	centroid vector // sum of its members' unit vectors, pruned to MaxTerms
	norm     float64
	// times of its members (unix seconds) within History, oldest first.
	times     []int64
	districts map[string]int
	// topName is the district most of its members name (ties: the first
	// by name) and topN their number, kept as members join (counts only
	// grow): district() without a pass over districts per candidate.
	topName string
	topN    int
	lines   map[string]int
	samples []Sample
	latest  string
	first   time.Time
	last    time.Time
	alerted bool
	elem    *list.Element // in Clusterer.lru
}

// Clusterer groups contacts. It is not safe for concurrent use.
type Clusterer struct {
	o     Options
	since time.Time // when observation began: the usual rate needs history
	next  uint64
	// df counts the documents each term was in, and n the documents; both
	// are halved when n reaches dfHalve, so they follow the recent texts
	// and stay bounded.
	df       map[term]float64
	n        float64
	clusters map[uint64]*cluster
	// postings lists, for each term, the groups whose centroid has it and
	// its weight there (always equal to the centroid's), so scoring a
	// contact against a group needs no lookup of the term's text in the
	// group's centroid: one per term and contact, not per term and group.
	postings map[term]map[uint64]float64
	lru      *list.List // front: most recently grown
	// dots and cands are nearest's scratch space, kept between contacts
	// so that each one does not grow a map and a slice anew.
	dots  map[uint64]float64
	cands []cand
	// dropped, if set, is told of a group before it is dropped.
	dropped func(*cluster)
}

const dfHalve = 20000

// dfPrior counts as documents without the term: until enough texts have
// been read, a term in all of the few read so far (the first contacts of
// a burst, on a quiet line) still weighs as a rare one.
const dfPrior = 1000

// maxPosting bounds the groups a term finds as candidates (see nearest).
const maxPosting = 64

// maxCandidates bounds the groups scored in full for one contact.
const maxCandidates = 32

// cand is a group nearest considers.
type cand struct {
	cl  *cluster
	dot float64 // by the rarer terms
	pre float64 // dot / norm, the order of candidates
}

// New returns a Clusterer that starts observing at since (the time of the
// first contact it will read: alerts wait until it has seen Window of
// history before the burst window).
func New(o Options, since time.Time) *Clusterer {
	return &Clusterer{o: o.withDefaults(), since: since, df: map[term]float64{}, clusters: map[uint64]*cluster{},
		postings: map[term]map[uint64]float64{}, lru: list.New(), dots: map[uint64]float64{}}
}

// Len is the number of groups kept.
func (c *Clusterer) Len() int { return len(c.clusters) }

// vectorize weighs a text's bigrams by TF-IDF and normalises them,
// counting the document in the frequencies first.
func (c *Clusterer) vectorize(text string) vector {
	tf := bigrams(text)
	c.n++
	for t := range tf {
		c.df[t]++
	}
	if c.n >= dfHalve {
		c.n /= 2
		for t, v := range c.df {
			if v < 1 {
				delete(c.df, t)
			} else {
				c.df[t] = v / 2
			}
		}
	}
	v := make(vector, len(tf))
	for t, f := range tf {
		v[t] = (1 + math.Log(float64(f))) * math.Log((c.n+dfPrior)/(c.df[t]+0.5))
	}
	if nm := v.norm(); nm > 0 {
		for t := range v {
			v[t] /= nm
		}
	}
	return v
}

// Add reads one contact and returns the id of the group it joined, and an
// alert if it made that group burst. Contacts must come in order of At.
func (c *Clusterer) Add(x Contact) (string, *Alert) {
	c.expire(x.At)
	v := c.vectorize(x.Text + " " + x.Address)
	district := x.District
	if district == "" {
		district = DistrictOf(x.Address + " " + x.Text)
	}
	best, score := c.nearest(v, district, x.Line)
	if best == nil || score < c.o.Threshold {
		c.next++
		best = &cluster{id: c.next, centroid: vector{}, districts: map[string]int{}, lines: map[string]int{}, first: x.At}
		c.clusters[best.id] = best
		best.elem = c.lru.PushFront(best)
	}
	c.grow(best, v, x, district)
	return clusterID(best.id), c.check(best, x.At)
}

func clusterID(id uint64) string { return fmt.Sprintf("c%d", id) }

// nearest finds the group most similar to v among those sharing one of its
// terms.
func (c *Clusterer) nearest(v vector, district, line string) (*cluster, float64) {
	// Candidates share a term with v that few groups have: a term in
	// more than maxPosting groups says little about any (its idf is low)
	// and would make every contact cost as much as the groups kept. Such
	// terms still count in the candidates' similarity.
	dots := c.dots
	clear(dots)
	type posted struct {
		w float64
		p map[uint64]float64
	}
	var common []posted
	for t, w := range v {
		p := c.postings[t]
		if len(p) > maxPosting {
			common = append(common, posted{w, p})
			continue
		}
		for id, cw := range p {
			dots[id] += w * cw
		}
	}
	// Only the groups nearest by the rarer terms are scored in full.
	cands := c.cands[:0]
	defer func() { clear(cands); c.cands = cands[:0] }() // no pointers to dropped groups kept
	for id, dot := range dots {
		cl := c.clusters[id]
		cands = append(cands, cand{cl, dot, dot / cl.norm})
	}
	if len(cands) > maxCandidates {
		slices.SortFunc(cands, func(a, b cand) int {
			if a.pre != b.pre {
				return cmp.Compare(b.pre, a.pre)
			}
			return cmp.Compare(a.cl.id, b.cl.id)
		})
		cands = cands[:maxCandidates]
	}
	var best *cluster
	bestScore := 0.0
	for _, cd := range cands {
		cl, dot := cd.cl, cd.dot
		if cl.norm == 0 {
			continue
		}
		for _, t := range common {
			dot += t.w * t.p[cl.id]
		}
		s := dot / cl.norm
		if d := cl.district(); district != "" && d != "" {
			if d == district {
				s += 0.1
			} else {
				s *= 0.5
			}
		}
		if line != "" && line != "12345" && cl.lines[line] > 0 {
			s += 0.05
		}
		if s > bestScore || (s == bestScore && best != nil && cl.id < best.id) {
			best, bestScore = cl, s
		}
	}
	return best, bestScore
}

func (cl *cluster) district() string { return cl.topName }

// grow adds a contact to cl.
func (c *Clusterer) grow(cl *cluster, v vector, x Contact, district string) {
	for t, w := range v {
		p := c.postings[t]
		if p == nil {
			p = map[uint64]float64{}
			c.postings[t] = p
		}
		cl.centroid[t] += w
		p[cl.id] = cl.centroid[t]
	}
	if len(cl.centroid) > 2*c.o.MaxTerms {
		c.prune(cl)
	}
	cl.norm = cl.centroid.norm()
	cl.times = append(cl.times, x.At.Unix())
	if district != "" {
		cl.districts[district]++
		if k := cl.districts[district]; k > cl.topN || (k == cl.topN && district < cl.topName) {
			cl.topName, cl.topN = district, k
		}
	}
	if x.Line != "" {
		cl.lines[x.Line]++
	}
	if len(cl.samples) < c.o.Samples {
		cl.samples = append(cl.samples, Sample{TrackingNo: x.TrackingNo, At: x.At, Text: cut(x.Text, 120)})
	}
	cl.latest = x.TrackingNo
	cl.last = x.At
	c.lru.MoveToFront(cl.elem)
}

// prune keeps a centroid's MaxTerms heaviest terms.
func (c *Clusterer) prune(cl *cluster) {
	terms := cl.topTerms(len(cl.centroid))
	for _, t := range terms[c.o.MaxTerms:] {
		delete(cl.centroid, t)
		c.unpost(t, cl.id)
	}
}

func (c *Clusterer) unpost(t term, id uint64) {
	if p := c.postings[t]; p != nil {
		delete(p, id)
		if len(p) == 0 {
			delete(c.postings, t)
		}
	}
}

func (cl *cluster) topTerms(n int) []term {
	terms := make([]term, 0, len(cl.centroid))
	for t := range cl.centroid {
		terms = append(terms, t)
	}
	sort.Slice(terms, func(i, j int) bool {
		a, b := cl.centroid[terms[i]], cl.centroid[terms[j]]
		return a > b || (a == b && terms[i] < terms[j])
	})
	return terms[:min(n, len(terms))]
}

// expire drops groups quiet for History, and the longest quiet past
// MaxClusters, and forgets members older than History.
func (c *Clusterer) expire(now time.Time) {
	for e := c.lru.Back(); e != nil; e = c.lru.Back() {
		cl := e.Value.(*cluster)
		if now.Sub(cl.last) < c.o.History && len(c.clusters) < c.o.MaxClusters {
			break
		}
		c.drop(cl)
	}
}

func (c *Clusterer) drop(cl *cluster) {
	if c.dropped != nil {
		c.dropped(cl)
	}
	for t := range cl.centroid {
		c.unpost(t, cl.id)
	}
	c.lru.Remove(cl.elem)
	delete(c.clusters, cl.id)
}

// counts returns a group's members in History and in Window before now,
// and its usual rate per second before Window (-1 while too little has
// been observed to know it).
func (c *Clusterer) counts(cl *cluster, now time.Time) (total, recent int, usual float64) {
	from := now.Add(-c.o.History).Unix()
	i := sort.Search(len(cl.times), func(i int) bool { return cl.times[i] > from })
	cl.times = cl.times[i:]
	ws := now.Add(-c.o.Window).Unix()
	j := sort.Search(len(cl.times), func(i int) bool { return cl.times[i] > ws })
	total, recent = len(cl.times), len(cl.times)-j
	span := now.Sub(c.since)
	if span > c.o.History {
		span = c.o.History
	}
	span -= c.o.Window
	if span < c.o.Window {
		return total, recent, -1
	}
	return total, recent, float64(j) / span.Seconds()
}

// check raises a group's alert the first time its count in Window reaches
// MinCount and Factor times its usual rate.
func (c *Clusterer) check(cl *cluster, now time.Time) *Alert {
	if cl.alerted {
		return nil
	}
	_, recent, usual := c.counts(cl, now)
	if usual < 0 || recent < c.o.MinCount || float64(recent) < c.o.Factor*usual*c.o.Window.Seconds() {
		return nil
	}
	cl.alerted = true
	r := c.report(cl, now)
	return &Alert{Cluster: r, Text: fmt.Sprintf("%s内 %d 件 %s", span(c.o.Window), r.Recent, r.Label)}
}

func span(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d 小时", int(d/time.Hour))
	}
	return fmt.Sprintf("%d 分钟", int(d/time.Minute))
}

// label names a group by phrases of its heaviest terms, chained where they
// overlap (金牛 牛区 区蓝 蓝湾 … → 金牛区蓝湾国际小区电梯停运; 玉林北路 + 路停水 →
// 玉林北路停水), with its district before them when they do not name it.
func (cl *cluster) label() (string, []string) {
	terms := cl.topTerms(12)
	texts := make([]string, len(terms))
	for i, t := range terms {
		texts[i] = t.String()
	}
	if len(terms) == 0 {
		return cl.district(), texts
	}
	strong := cl.centroid[terms[0]] * 0.25
	used := map[term]bool{}
	var phrases [][]rune
	for _, start := range terms {
		if len(phrases) == 3 || cl.centroid[start] < strong*2 {
			break // a phrase starts only from a term at least half as heavy as the heaviest
		}
		if used[start] {
			continue
		}
		used[start] = true
		a, b := start.runes()
		p := []rune{a, b}
		for _, left := range []bool{true, false} {
			for len(p) < 14 {
				var next term
				found := false
				for _, t := range terms { // heaviest first
					if cl.centroid[t] < strong {
						break
					}
					r0, r1 := t.runes()
					if !used[t] && ((left && r1 == p[0]) || (!left && r0 == p[len(p)-1])) {
						next, found = t, true
						break
					}
				}
				if !found {
					break
				}
				used[next] = true
				if r0, r1 := next.runes(); left {
					p = append([]rune{r0}, p...)
				} else {
					p = append(p, r1)
				}
			}
		}
		phrases = append(phrases, p)
	}
	// Join phrases that continue one another.
	isTerm := map[term]bool{}
	for _, t := range terms {
		isTerm[t] = true
	}
	for merged := true; merged; {
		merged = false
		for i := 0; i < len(phrases) && !merged; i++ {
			for j := 0; j < len(phrases) && !merged; j++ {
				a, b := phrases[i], phrases[j]
				if i == j {
					continue
				}
				switch {
				case a[len(a)-1] == b[0]: // 玉林北路 + 路停水
					phrases[i] = append(append([]rune(nil), a...), b[1:]...)
				case isTerm[bigram(a[len(a)-1], b[0])]: // 玉林北 + 路停水, 北路 a term
					phrases[i] = append(append([]rune(nil), a...), b...)
				default:
					continue
				}
				phrases = append(phrases[:j], phrases[j+1:]...)
				merged = true
			}
		}
	}
	words := make([]string, 0, len(phrases))
	for _, p := range phrases {
		if w := strings.TrimRight(string(p), "了的吗呢啊"); len([]rune(w)) >= 2 {
			words = append(words, w)
		}
	}
	l := strings.Join(words, " ")
	if d := cl.district(); d != "" && !strings.Contains(l, strings.TrimRight(d, "区市县")) {
		l = strings.TrimSpace(d + " " + l)
	}
	return l, texts
}

func (c *Clusterer) report(cl *cluster, now time.Time) Cluster {
	total, recent, usual := c.counts(cl, now)
	label, terms := cl.label()
	r := Cluster{ID: clusterID(cl.id), Label: label, District: cl.district(), Terms: terms, Count: total,
		Recent: recent, UsualPerHour: math.Max(usual, 0) * 3600, First: cl.first, Last: cl.last, Latest: cl.latest,
		Samples: append([]Sample(nil), cl.samples...), Alerted: cl.alerted}
	for l := range cl.lines {
		r.Lines = append(r.Lines, l)
	}
	sort.Strings(r.Lines)
	return r
}

// Clusters returns the groups with at least min contacts in History at
// now, the most recent contacts first.
func (c *Clusterer) Clusters(now time.Time, min int) []Cluster {
	var out []Cluster
	for _, cl := range c.clusters {
		if len(cl.times) >= min {
			if r := c.report(cl, now); r.Count >= min {
				out = append(out, r)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Recent != out[j].Recent {
			return out[i].Recent > out[j].Recent
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Group groups contacts read from anywhere (a day's contacts from the
// archive, for the daily report) as the Service does live: it returns the
// groups of at least min contacts at the time of the last contact, the
// most recent first, and the alerts raised along the way. Contacts are
// read in order of At (sorted here, the slice is left as it is); the usual
// rate is measured from the first contact on, so pass History (24 h) of
// contacts before the span of interest for alerts like the live ones.
func Group(cs []Contact, o Options, min int) ([]Cluster, []Alert) {
	if len(cs) == 0 {
		return nil, nil
	}
	sorted := append([]Contact(nil), cs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At.Before(sorted[j].At) })
	c := New(o, sorted[0].At)
	var alerts []Alert
	for _, x := range sorted {
		if _, a := c.Add(x); a != nil {
			alerts = append(alerts, *a)
		}
	}
	return c.Clusters(sorted[len(sorted)-1].At, min), alerts
}

// GroupMembers groups the contacts of a whole span (a report's day, week or
// month) as Group does, but forgets nothing for its age: Count is a group's
// contacts over the whole span. It returns the groups of at least min
// contacts, the largest first, and the id of each contact's group (in the
// order given). Groups past MaxClusters are still dropped, the longest
// quiet first (their contacts keep their group's id, and a dropped group of
// at least min contacts is still returned); a later contact about the same
// thing then starts a new group.
func GroupMembers(cs []Contact, o Options, min int) ([]Cluster, []string) {
	ids := make([]string, len(cs))
	if len(cs) == 0 {
		return nil, ids
	}
	order := make([]int, len(cs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return cs[order[i]].At.Before(cs[order[j]].At) })
	first, last := cs[order[0]].At, cs[order[len(order)-1]].At
	o = o.withDefaults()
	if span := last.Sub(first) + o.Window + time.Hour; o.History < span {
		o.History = span
	}
	c := New(o, first)
	var out []Cluster
	c.dropped = func(cl *cluster) {
		if len(cl.times) >= min {
			out = append(out, c.report(cl, cl.last))
		}
	}
	for _, i := range order {
		ids[i], _ = c.Add(cs[i])
	}
	out = append(out, c.Clusters(last, min)...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].First.Before(out[j].First) || (out[i].First.Equal(out[j].First) && out[i].ID < out[j].ID)
	})
	return out, ids
}
