package configs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func embeddedDirectory(t testing.TB) (*Config, *Directory) {
	t.Helper()
	c, err := Default()
	require.NoError(t, err)
	d, err := LoadDirectory(c)
	require.NoError(t, err)
	return c, d
}

func TestEmbeddedHotlines(t *testing.T) {
	c, d := embeddedDirectory(t)
	require.Len(t, d.Hotlines, 1+119, "12345 and the 119 merged legacy hotlines")
	require.Equal(t, "12345", d.Hotlines[0].Number)
	require.Equal(t, "general", d.Hotlines[0].Queue)
	legacy := 0
	for _, h := range d.Hotlines[1:] {
		require.NotEqual(t, "12345", h.Number)
		legacy++
	}
	require.Equal(t, 119, legacy)

	for _, emergency := range []string{"110", "119", "120", "122"} {
		_, ok := d.Hotline(emergency)
		require.False(t, ok, "emergency line %s stays separate", emergency)
	}
	for _, n := range []string{"12315", "12333", "12369", "12319", "12320", "12328", "12348"} {
		_, ok := d.Hotline(n)
		require.True(t, ok, n)
	}

	prio := map[string]int{}
	for _, q := range c.Queues {
		prio[q.Name] = q.Priority
	}
	var enterprise []Hotline
	for _, h := range d.Hotlines {
		require.Equal(t, prio[h.Queue], h.Priority, "%s takes its queue's priority", h.Name)
		require.True(t, len(h.Number) == 5 && strings.HasPrefix(h.Number, "123") ||
			len(h.Number) == 11 && strings.HasPrefix(h.Number, "028"), h.Number)
		if strings.Contains(h.Name, "亲清在线") {
			enterprise = append(enterprise, h)
		}
	}
	require.Len(t, enterprise, 1)
	require.Equal(t, "enterprise", enterprise[0].Queue)
	require.Greater(t, enterprise[0].Priority, d.Hotlines[0].Priority)
}

func TestEmbeddedMailboxes(t *testing.T) {
	_, d := embeddedDirectory(t)
	require.Len(t, d.Mailboxes, 2352)
	levels := map[string]int{}
	districts := map[string]bool{}
	for _, m := range d.Mailboxes {
		levels[m.Level]++
		require.Equal(t, m.ID+"@mail.12345.chengdu.gov.cn", m.Email)
		if m.Level == LevelCity {
			require.Equal(t, CityWide, m.District)
		}
		districts[m.District] = true
	}
	require.Equal(t, map[string]int{LevelCity: 13, LevelDepartment: 61 + 20*49 + 3*35, LevelDistrict: 23 * 7, LevelTown: 4 * 258}, levels)
	for _, name := range []string{"锦江区", "青羊区", "金牛区", "武侯区", "成华区", "龙泉驿区", "青白江区", "新都区", "温江区",
		"双流区", "郫都区", "新津区", "简阳市", "都江堰市", "彭州市", "邛崃市", "崇州市", "金堂县", "大邑县", "蒲江县",
		"成都高新区", "四川天府新区成都直管区", "成都东部新区", CityWide} {
		require.True(t, districts[name], name)
		delete(districts, name)
	}
	require.Empty(t, districts)
}

func TestDirectoryLookups(t *testing.T) {
	_, d := embeddedDirectory(t)
	mayor, ok := d.Mailbox("cd-city-0002")
	require.True(t, ok)
	require.Equal(t, "市长信箱", mayor.Name)

	got, ok := d.MailboxByEmail("  CD-City-0002@Mail.12345.Chengdu.gov.cn ")
	require.True(t, ok)
	require.Equal(t, mayor, got)
	_, ok = d.Mailbox("cd-city-9999")
	require.False(t, ok)

	ent := d.Hotlines[slices.IndexFunc(d.Hotlines, func(h Hotline) bool { return strings.Contains(h.Name, "亲清在线") })]
	local := ent.Number[3:] // 8 digits, as dialled inside Chengdu
	for _, dialled := range []string{ent.Number, local, "+86 28 " + local, "0086-28-" + local, "(028) " + local} {
		h, ok := d.Hotline(dialled)
		require.True(t, ok, dialled)
		require.Equal(t, ent, h)
	}
	_, ok = d.Hotline("12346")
	require.False(t, ok)
}

func TestLoadDirectoryErrors(t *testing.T) {
	const hHead = "number,name,topic,queue,priority\n"
	const mHead = "id,name,owner,level,district,queue,email\n"
	const mOK = "cd-city-0001,市委书记信箱,中共成都市委员会,city,全市,general,cd-city-0001@mail.12345.chengdu.gov.cn\n"
	for _, tc := range []struct {
		name, hotlines, mailboxes string
		want                      []string // after the file name
	}{
		{"hotline duplicate", hHead + "12345,a,t,general,0\n12345,b,t,general,0\n", "",
			[]string{`:3:1: number: duplicate "12345" (first on line 2)`}},
		{"hotline unknown queue", hHead + "12345,a,t,genral,0\n", "", []string{`:2:11: queue: unknown queue "genral"`}},
		{"hotline number", hHead + "028-1234,a,t,general,0\n", "",
			[]string{`:2:1: number: "028-1234": must be 3–15 digits (the number a caller dials)`}},
		{"hotline priority and name", hHead + "12345,,t,general,x\n", "",
			[]string{`:2:7: name: must not be empty`, `:2:18: priority: "x": must be 0–9`}},
		{"hotline header", "number,name,topic,queue\n12345,a,t,general\n", "",
			[]string{`:1:1: header is "number,name,topic,queue", want "number,name,topic,queue,priority"`}},
		{"hotline fields", hHead + "12345,a,t,general\n", "", []string{`:2:1: wrong number of fields`}},
		{"hotline quote", hHead + "12345,a \"b,t,general,0\n", "", []string{`:2:9: bare " in non-quoted-field`}},
		{"empty", "", "", []string{`:1:1: empty file: want the header number,name,topic,queue,priority`}},
		{"bom", "\uFEFF" + hHead + "12345,a,t,general,0\n", "", nil},
		{"mailbox duplicate id and email", "", mHead + mOK + strings.ToUpper(mOK[:12]) + mOK[12:] + mOK, []string{
			`:3:1: id: "CD-CITY-0001": must be lower-case letters and digits joined by '-', at most 64`,
			`:3:78: email: duplicate "cd-city-0001@mail.12345.chengdu.gov.cn" (first on line 2)`,
			`:4:1: id: duplicate "cd-city-0001" (first on line 2)`,
			`:4:78: email: duplicate "cd-city-0001@mail.12345.chengdu.gov.cn" (first on line 2)`,
		}},
		{"mailbox level and district", "", mHead + "cd-x-1,信箱,某单位,province,锦江区,general,a@b.cn\ncd-x-2,信箱,某单位,city,锦江区,general,c@b.cn\ncd-x-3,信箱,某单位,town,,general,d@b.cn\n", []string{
			`:2:25: level: "province": must be one of city district department town`,
			`:3:30: district: "锦江区": a city mailbox's district must be "全市"`,
			`:4:30: district: must not be empty for level town`,
		}},
		{"mailbox email", "", mHead + "cd-x-1,信箱,某单位,city,全市,general,市长 <a@b.cn>\n", []string{
			`:2:45: email: "市长 <a@b.cn>": must be a bare e-mail address`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c, err := Default()
			require.NoError(t, err)
			file := ""
			if tc.mailboxes == "" {
				c.Directory.Hotlines = filepath.Join(dir, "h.csv")
				file = c.Directory.Hotlines
				require.NoError(t, os.WriteFile(file, []byte(tc.hotlines), 0o644))
			} else {
				c.Directory.Mailboxes = filepath.Join(dir, "m.csv")
				file = c.Directory.Mailboxes
				require.NoError(t, os.WriteFile(file, []byte(tc.mailboxes), 0o644))
			}
			d, err := LoadDirectory(c)
			if tc.want == nil {
				require.NoError(t, err)
				require.Len(t, d.Hotlines, 1)
				return
			}
			require.ErrorIs(t, err, ErrDirectory)
			var want []string
			for _, w := range tc.want {
				want = append(want, file+w)
			}
			require.Equal(t, want, checkLines(err))
		})
	}
}

func TestLoadDirectoryCorpus(t *testing.T) {
	for _, tc := range []struct{ hotlines, mailboxes, want string }{
		{"hotlines_dup.csv", "", `hotlines_dup.csv:4:1: number: duplicate "12315" (first on line 3)`},
		{"hotlines_bad_header.csv", "", `hotlines_bad_header.csv:1:1: header is`},
		{"hotlines_unknown_queue.csv", "", `hotlines_unknown_queue.csv:3:50: queue: unknown queue "housng"`},
		{"", "mailboxes_bad.csv", `mailboxes_bad.csv:3:1: id: duplicate "cd-city-0002" (first on line 2)`},
		{"", "mailboxes_bad.csv", `mailboxes_bad.csv:4:71: level: "province": must be one of`},
		{"", "mailboxes_bad.csv", `mailboxes_bad.csv:5:92: email: duplicate "cd-city-0002@mail.12345.chengdu.gov.cn" (first on line 2)`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			c, err := Default()
			require.NoError(t, err)
			if tc.hotlines != "" {
				c.Directory.Hotlines = testdata + tc.hotlines
			}
			if tc.mailboxes != "" {
				c.Directory.Mailboxes = testdata + tc.mailboxes
			}
			_, err = LoadDirectory(c)
			require.ErrorContains(t, err, testdata+tc.want)
		})
	}
}

func TestLoadDirectoryTooManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("number,name,topic,queue,priority\n")
	for range 30 {
		b.WriteString("12345,a,t,general,0\n")
	}
	c, err := Default()
	require.NoError(t, err)
	c.Directory.Hotlines = filepath.Join(t.TempDir(), "h.csv")
	require.NoError(t, os.WriteFile(c.Directory.Hotlines, []byte(b.String()), 0o644))
	_, err = LoadDirectory(c)
	lines := checkLines(err)
	require.Len(t, lines, maxErrorsPerFile+1)
	require.Equal(t, c.Directory.Hotlines+":23: 9 more errors from this line on", lines[maxErrorsPerFile])
}

func BenchmarkLoadDirectory(b *testing.B) {
	c, err := Default()
	require.NoError(b, err)
	for b.Loop() {
		if _, err := LoadDirectory(c); err != nil {
			b.Fatal(err)
		}
	}
}
