package archive_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lianxin/lianxin/archive"
	"github.com/lianxin/lianxin/archive/pgtest"
	"github.com/stretchr/testify/require"
)

func TestMaskSample(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"我的电话13800138000，请回电", "我的电话***********，请回电"},
		{"电话 138 0013 8000", "电话 *** **** ****"},
		{"座机028-85551234", "座机***-********"},
		{"身份证51010719900101123X", "身份证******************"},
		{"全角１３８００１３８０００", "全角***********"},
		{"邮箱 wang.jg@example.com 收", "邮箱 ***@*** 收"},
		{"住武侯区玉林北路12号3栋2单元501室", "住武侯区玉林北路**号*栋*单元***室"},
		{"蓝湾国际小区5号楼3-2-501", "蓝湾国际小区*号楼*-*-***"},
		{"玉林北路十二号三栋", "玉林北路**号*栋"},
		{"停水两天了，武侯区玉林北路", "停水两天了，武侯区玉林北路"},
		{"建设北路二段燃气味", "建设北路二段燃气味"},
		{"等了45分钟", "等了45分钟"},
	} {
		got := archive.MaskSample(c.in)
		require.Equal(t, c.want, got, "MaskSample(%q)", c.in)
		require.Equal(t, got, archive.MaskSample(got), "masking twice changes nothing: %q", c.in)
	}
}

// longDigits finds what MaskSample must never leave: 7 digits in a row,
// single separators between them allowed.
var longDigits = regexp.MustCompile(`[0-9０-９](?:[ \-.－]?[0-9０-９]){6,}`)

func FuzzMaskSample(f *testing.F) {
	for _, s := range []string{"电话13800138000", "138 0013 8000", "玉林北路12号3栋2单元501室", "a@b.cn",
		"3-2-501", "１３８００１３８０００", "十二号", "\xff\xfe12345678", "", "1 2 3 4 5 6 7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := archive.MaskSample(s)
		if !utf8.ValidString(got) {
			t.Fatalf("MaskSample(%q) = %q: not UTF-8", s, got)
		}
		if m := longDigits.FindString(got); m != "" {
			t.Fatalf("MaskSample(%q) = %q: a long number %q is left", s, got, m)
		}
		if again := archive.MaskSample(got); again != got {
			t.Fatalf("MaskSample not stable: %q → %q → %q", s, got, again)
		}
		if utf8.RuneCountInString(got) != utf8.RuneCountInString(strings.ToValidUTF8(s, "\uFFFD")) &&
			!strings.Contains(got, "***@***") {
			t.Fatalf("MaskSample(%q) = %q: length changed", s, got)
		}
	})
}

// corpusContact is one contact of the labelled corpus (clusters/testdata).
type corpusContact struct {
	group, line, address, text string
	minute                     int
}

func readLabelledCorpus(t *testing.T) []corpusContact {
	f, err := os.Open("../clusters/testdata/contacts.tsv")
	require.NoError(t, err)
	defer f.Close()
	var out []corpusContact
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		require.Len(t, cols, 5, "line %d", n)
		m, err := strconv.Atoi(cols[1])
		require.NoError(t, err)
		out = append(out, corpusContact{group: cols[0], minute: m, line: cols[2], address: cols[3], text: cols[4]})
	}
	require.NoError(t, sc.Err())
	return out
}

// archiveCorpus writes the labelled corpus into the archive as closed
// contacts of 2026-11-30 (from 09:00 China time), with a phone number and a
// house's number added to every third contact of a known group, and the
// noise of the days before and after. It returns each tracking number's
// group ("-" for a contact of its own) and the groups' sizes.
func archiveCorpus(t *testing.T, st *archive.Store) (map[string]string, map[string]int) {
	corpus := readLabelledCorpus(t)
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, archive.ChinaTime)
	var tns, lines, contacts []string
	var ats []time.Time
	truth, sizes := map[string]string{}, map[string]int{}
	add := func(tn, line string, at time.Time, c map[string]any) {
		b, err := json.Marshal(c)
		require.NoError(t, err)
		tns, lines, ats, contacts = append(tns, tn), append(lines, line), append(ats, at), append(contacts, string(b))
	}
	for i, c := range corpus {
		tn := fmt.Sprintf("2026113000%05d", i)
		text := c.text
		if c.group != "-" {
			sizes[c.group]++
			if sizes[c.group]%3 == 0 {
				text += fmt.Sprintf("。我住12号3栋2单元501室，电话138 0013 %04d", 8000+i)
			}
		}
		truth[tn] = c.group
		ct := map[string]any{"tracking_no": tn, "text": text}
		if c.address != "" {
			ct["location"] = map[string]any{"address": c.address}
		}
		add(tn, c.line, start.Add(time.Duration(c.minute)*time.Minute), ct)
	}
	// The same problems the day before and after are not this day's.
	for i := range 40 {
		add(fmt.Sprintf("2026112900%05d", i), "12345", start.Add(-20*time.Hour+time.Duration(i)*time.Minute),
			map[string]any{"text": "武侯区玉林北路停水了，什么时候来水"})
		add(fmt.Sprintf("2026120100%05d", i), "12345", start.Add(20*time.Hour+time.Duration(i)*time.Minute),
			map[string]any{"text": "成华区建设北路二段有燃气味"})
	}
	_, err := st.Pool().Exec(t.Context(), `INSERT INTO contacts (tracking_no, channel, line, line_name, received_at,
		queued_at, closed_at, outcome, contact, fields, messages)
		SELECT tn, 'sms', line, CASE WHEN line = '12345' THEN '12345热线' ELSE '' END, at, at, at + interval '5 minutes',
			'resolved', c::jsonb, '{}', '[]'
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) AS x(tn, line, at, c)`,
		tns, lines, ats, contacts)
	require.NoError(t, err)
	return truth, sizes
}

// TestCommonProblemsOfAPeriod: a day of the labelled corpus in the archive;
// the day's report lists its five known groups as its largest common
// problems, with their sizes (within 15 %, as TestGroupMembers measures the
// grouping), district and line, and sample texts whose phone and house
// numbers are masked; in JSON, CSV and HTML. Read one in two (as a month
// over ProblemsSampleAbove is), the sizes are estimates within 40 %.
func TestCommonProblemsOfAPeriod(t *testing.T) {
	pg := pgtest.Start(t)
	st, err := archive.Open(t.Context(), pg.URL, nil)
	require.NoError(t, err)
	defer st.Close()
	truth, sizes := archiveCorpus(t, st)
	day, err := archive.ParsePeriod(archive.Day, "2026-11-30")
	require.NoError(t, err)

	check := func(r *archive.Report, tolerance float64) {
		t.Helper()
		require.GreaterOrEqual(t, len(r.CommonProblems), 5)
		found := map[string]bool{}
		for _, p := range r.CommonProblems[:5] {
			// the known group its samples belong to
			votes := map[string]int{}
			for _, s := range p.Samples {
				votes[truth[s.TrackingNo]]++
			}
			best, n := "", 0
			for g, v := range votes {
				if v > n {
					best, n = g, v
				}
			}
			t.Logf("%s %q: %d contacts (%d read), district %q, lines %v; known group %s of %d", p.ID, p.Label,
				p.Count, p.Read, p.District, p.Lines, best, sizes[best])
			require.NotEqual(t, "-", best, "problem %q is a known group", p.Label)
			require.False(t, found[best], "group %s listed once", best)
			found[best] = true
			require.InDelta(t, sizes[best], p.Count, float64(sizes[best])*tolerance, "size of %q", p.Label)
			require.NotEmpty(t, p.Lines)
			require.NotEmpty(t, p.Samples)
			for _, s := range p.Samples {
				require.Empty(t, longDigits.FindString(s.Text), "sample masked: %q", s.Text)
				require.NotRegexp(t, `[0-9]+(号|栋|单元|室)`, s.Text, "house number masked")
				require.True(t, s.At.After(day.Start) && s.At.Before(day.End))
			}
		}
		require.Len(t, found, 5, "the five known groups are the five largest problems")
	}

	r, err := st.Compute(t.Context(), day, nil)
	require.NoError(t, err)
	require.Equal(t, 1, r.ProblemsSampleEvery)
	require.Equal(t, len(truth), r.ProblemsRead)
	check(r, 0.15)
	districts := map[string]bool{}
	masked := false
	for _, p := range r.CommonProblems[:5] {
		districts[p.District] = true
		for _, s := range p.Samples {
			masked = masked || strings.Contains(s.Text, "*号*栋*单元***室，电话*** **** ****")
		}
	}
	for _, d := range []string{"武侯区", "成华区", "高新区", "金牛区"} {
		require.True(t, districts[d], "a problem in %s", d)
	}
	require.True(t, masked, "a sample with a phone and a house number is shown masked")

	var buf bytes.Buffer
	require.NoError(t, r.WriteJSON(&buf))
	var js map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &js))
	require.Len(t, js["common_problems"], len(r.CommonProblems))
	require.NotContains(t, buf.String(), "138 0013")
	buf.Reset()
	require.NoError(t, r.WriteCSV(&buf))
	require.Contains(t, buf.String(), "2026-11-30,common_problem,"+r.CommonProblems[0].ID+","+r.CommonProblems[0].Label+
		","+strconv.Itoa(r.CommonProblems[0].Count)+",")
	require.NotContains(t, buf.String(), "138 0013")
	buf.Reset()
	require.NoError(t, r.WriteHTML(&buf))
	require.Contains(t, buf.String(), "共性问题")
	require.Contains(t, buf.String(), r.CommonProblems[0].Label)
	require.NotContains(t, buf.String(), "138 0013")

	// One in two read.
	defer func(n int) { archive.ProblemsSampleAbove = n }(archive.ProblemsSampleAbove)
	archive.ProblemsSampleAbove = len(truth)/2 + 1
	r, err = st.Compute(t.Context(), day, nil)
	require.NoError(t, err)
	require.Equal(t, 2, r.ProblemsSampleEvery)
	require.InDelta(t, len(truth)/2, r.ProblemsRead, float64(len(truth))*0.1)
	check(r, 0.4)
	buf.Reset()
	require.NoError(t, r.WriteHTML(&buf))
	require.Contains(t, buf.String(), "按每2件抽1件归类")
}
