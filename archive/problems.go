package archive

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lianxin/lianxin/clusters"
)

// Common problems (共性问题) of a period: its archived contacts grouped by
// what they are about, as the live grouping does (clusters.GroupMembers:
// character bigrams, district, line), with masked sample texts.

// Problem is one group of contacts about the same thing in a period.
type Problem struct {
	// ID names the group within this report (c17); it is not the live
	// grouping's id.
	ID       string   `json:"id"`
	Label    string   `json:"label"`
	District string   `json:"district,omitempty"`
	Terms    []string `json:"terms"`
	// Count is its contacts in the period: those read times SampleEvery
	// when the period was sampled (an estimate then).
	Count int `json:"count"`
	// Read is how many of its contacts were read.
	Read int `json:"read"`
	// Lines it came in on, the most contacts first (read ones).
	Lines []ProblemLine `json:"lines"`
	First time.Time     `json:"first"`
	Last  time.Time     `json:"last"`
	// Samples are a few of its contacts, their texts masked (MaskSample).
	Samples []clusters.Sample `json:"samples"`
}

// ProblemLine is a line (a hotline number, a mailbox, a channel's
// account) and how many of a group's contacts came on it.
type ProblemLine struct {
	Line string `json:"line"`
	Name string `json:"name,omitempty"`
	N    int    `json:"n"`
}

// Common problems are read in full up to ProblemsSampleAbove contacts in a
// period; above that, one contact in k (by its tracking number's hash), so
// that a month of a surge (900,000) still takes seconds. Groups of fewer than
// ProblemsMin contacts read are left out, and at most ProblemsMax are listed
// (0: no common problems are looked for).
var (
	ProblemsSampleAbove = 60000
	ProblemsMin         = 3
	ProblemsMax         = 20
)

const problemsSQL = `
SELECT tracking_no, received_at, line, line_name, district,
	btrim(coalesce(contact->>'subject', '') || ' ' || coalesce(contact->>'text', '')),
	coalesce(contact->'location'->>'address', '')
FROM contacts
WHERE received_at >= $1 AND received_at < $2 AND ($3::int = 1 OR abs(hashtext(tracking_no)) % $3::int = 0)
	AND (coalesce(contact->>'text', '') <> '' OR coalesce(contact->>'subject', '') <> '')`

// periodProblems counts the period's contacts (for the sampling) and groups
// them, in a read-only transaction of its own.
func (s *Store) periodProblems(ctx context.Context, p Period) ([]Problem, int, int, error) {
	if ProblemsMax <= 0 {
		return []Problem{}, 0, 0, nil
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("archive: common problems: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE received_at >= $1 AND received_at < $2`,
		p.Start, p.End).Scan(&n); err != nil {
		return nil, 0, 0, fmt.Errorf("archive: common problems: %w", err)
	}
	return s.commonProblems(ctx, tx, p, n)
}

// commonProblems groups the period's contacts; received is how many it has
// (the report's total), which sets the sampling.
func (s *Store) commonProblems(ctx context.Context, tx pgx.Tx, p Period, received int) ([]Problem, int, int, error) {
	every := 1
	if ProblemsSampleAbove > 0 && received > ProblemsSampleAbove {
		every = (received + ProblemsSampleAbove - 1) / ProblemsSampleAbove
	}
	rows, err := tx.Query(ctx, problemsSQL, p.Start, p.End, every)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("archive: common problems: %w", err)
	}
	defer rows.Close()
	var cs []clusters.Contact
	lineNames := map[string]string{}
	for rows.Next() {
		var c clusters.Contact
		var name string
		if err := rows.Scan(&c.TrackingNo, &c.At, &c.Line, &name, &c.District, &c.Text, &c.Address); err != nil {
			return nil, 0, 0, fmt.Errorf("archive: common problems: %w", err)
		}
		if name != "" {
			lineNames[c.Line] = name
		}
		// Grouped as shown: a phone or house number says nothing of the
		// problem, and would set apart contacts about the same one.
		c.Text = MaskSample(c.Text)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, fmt.Errorf("archive: common problems: %w", err)
	}
	groups, ids := clusters.GroupMembers(cs, clusters.Options{}, ProblemsMin)
	if len(groups) > ProblemsMax {
		groups = groups[:ProblemsMax]
	}
	lines := map[string]map[string]int{}
	for _, g := range groups {
		lines[g.ID] = map[string]int{}
	}
	for i, id := range ids {
		if l := lines[id]; l != nil {
			l[cs[i].Line]++
		}
	}
	out := make([]Problem, 0, len(groups))
	for _, g := range groups {
		pr := Problem{ID: g.ID, Label: g.Label, District: g.District, Terms: g.Terms, Count: g.Count * every,
			Read: g.Count, First: g.First.In(ChinaTime), Last: g.Last.In(ChinaTime), Samples: []clusters.Sample{}}
		for l, n := range lines[g.ID] {
			pr.Lines = append(pr.Lines, ProblemLine{Line: l, Name: lineNames[l], N: n})
		}
		sort.Slice(pr.Lines, func(i, j int) bool {
			a, b := pr.Lines[i], pr.Lines[j]
			return a.N > b.N || (a.N == b.N && a.Line < b.Line)
		})
		seen := map[string]bool{}
		for _, sm := range g.Samples {
			if seen[sm.Text] {
				continue // the same words again show nothing new
			}
			seen[sm.Text] = true
			pr.Samples = append(pr.Samples, clusters.Sample{TrackingNo: sm.TrackingNo, At: sm.At.In(ChinaTime),
				Text: MaskSample(sm.Text)}) // masked already; again, in case cutting made a new match
		}
		out = append(out, pr)
	}
	return out, len(cs), every, nil
}

var (
	// digits, ASCII or full-width
	// runs of 7 or more digits, single spaces, dots or dashes between them
	// (phone numbers, ID card numbers, bank cards): every digit masked
	longNumberRE = regexp.MustCompile(`[0-9０-９](?:[ \-.－]?[0-9０-９]){6,}[xX]?`)
	emailRE      = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	// a house's number: 12号, 3栋, 2单元, 501室, 5号楼, 3-2-501
	doorRE = regexp.MustCompile(`[0-9０-９]+(?:号楼|号院|号|栋|幢|单元|室|户)|[0-9０-９]+(?:[\-－][0-9０-９]+)+`)
	// a house's number in Chinese numerals: 十二号, 三栋, 二单元
	hanDoorRE = regexp.MustCompile(`[一二三四五六七八九十百零两]+(?:号楼|号院|号|栋|幢|单元|室)`)
)

// MaskSample masks what would identify a citizen in a text shown as a
// sample of a common problem: phone, ID card and other long numbers (7 or
// more digits, with or without spaces or dashes), e-mail addresses, and a
// house's number in an address (12号, 3栋2单元501室, 3-2-501), whose digits
// become *. The street, the estate and the district stay: they are what
// the problem is about. Masking a masked text changes nothing.
func MaskSample(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	star := func(m string) string {
		var b strings.Builder
		for _, r := range m {
			switch {
			case r >= '0' && r <= '9', r >= '０' && r <= '９', r == 'x', r == 'X':
				b.WriteByte('*')
			case strings.ContainsRune("一二三四五六七八九十百零两", r):
				b.WriteByte('*')
			default:
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	s = emailRE.ReplaceAllString(s, "***@***")
	s = longNumberRE.ReplaceAllStringFunc(s, star)
	s = doorRE.ReplaceAllStringFunc(s, star)
	s = hanDoorRE.ReplaceAllStringFunc(s, star)
	return s
}
