package queue_test

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// luaProfile is BenchmarkScripts's line profile of the scripts' library
// (LIANXIN_BENCH_LUAPROF=dir): the cell's redis-server, a build with
// scripts/lua-profile.patch (scripts/lua-profile.sh makes one and runs
// this), counts for each line of the library the Lua instructions run and
// the processor's cycles until the next one (so a line's redis.call has its
// command's cycles), and rewrites its file after every call. The bench
// starts the count again when the measured lifecycles start and, at the end,
// writes dir/<cell>.txt (the lines and the functions by cycles, the hook's
// own cost per instruction taken out) and dir/<cell>.lua (the library as
// loaded, whose lines the report names), and logs the head of the report.
//
// Under the hook Redis runs some ten times slower and the cycles are
// estimates (the hook's cost is taken as the least any busy line paid per
// instruction); the instruction counts are exact. The µs figures are not
// reported then.
type luaProfile struct {
	prof, zero, lib, out string
}

// newLuaProfile sets the environment of the cell's redis-server, to be
// started next, for a line profile in dir.
func newLuaProfile(b *testing.B, dir string) *luaProfile {
	dir, err := filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		b.Fatal(err)
	}
	name := cellFileName(b)
	p := &luaProfile{prof: filepath.Join(dir, name+".prof"), zero: filepath.Join(dir, name+".zero"),
		lib: filepath.Join(dir, name+".lua"), out: filepath.Join(dir, name+".txt")}
	_ = os.Remove(p.prof)
	b.Setenv("LX_PROF", p.prof)
	b.Setenv("LX_PROF_ZERO", p.zero)
	return p
}

// start has the count start again at Redis's next call, and keeps the
// library's code.
func (p *luaProfile) start(b testing.TB, rdb *redis.Client) {
	libs, err := rdb.FunctionList(context.Background(), redis.FunctionListQuery{WithCode: true}).Result()
	if err != nil {
		b.Fatalf("the scripts' library: %v", err)
	}
	if len(libs) != 1 {
		b.Fatalf("%d function libraries in the cell's Redis, want the scripts' one", len(libs))
	}
	if err := os.WriteFile(p.lib, []byte(libs[0].Code), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(p.zero, nil, 0o644); err != nil {
		b.Fatal(err)
	}
}

// profLine is one line of the library as the profile counted it.
type profLine struct {
	line     int
	ops, cyc float64 // per unit
	net      float64 // cyc less the hook's cost
	fn, text string
}

// luaFunctionStart is a line that starts a function of the library's top
// level, or one of its scripts (the line profile adds each line to the
// function it is in, nested functions to the one around them).
var luaFunctionStart = regexp.MustCompile(`^(?:local function ([A-Za-z_]\w*)|([A-Za-z_]\w*) = function|redis\.register_function\('lx_[0-9a-f]+_(\w+)')`)

// report reads the profile of n units (lifecycles, calls) and writes and
// logs its report.
func (p *luaProfile) report(b *testing.B, n int, unit string) {
	f, err := os.Open(p.prof)
	if err != nil {
		b.Fatalf("redis-server wrote no line profile (%v): LIANXIN_BENCH_LUAPROF needs a redis-server built with "+
			"scripts/lua-profile.patch first on PATH (scripts/lua-profile.sh)", err)
	}
	defer f.Close()
	code, err := os.ReadFile(p.lib)
	if err != nil {
		b.Fatal(err)
	}
	src := strings.Split(string(code), "\n")
	fnOf := make([]string, len(src)+1)
	fn, script := "(library)", ""
	for i, l := range src {
		if m := luaFunctionStart.FindStringSubmatch(l); m != nil {
			switch {
			case m[3] != "":
				script = m[3]
				fn = "script " + script
			case m[1] == "SCRIPT_BODY" || m[1] == "CALL_BODY":
				fn = "script " + script // the script's body, in the wrapping scriptHeads.library gives it
			default:
				fn = cmp.Or(m[1], m[2])
			}
		}
		fnOf[i+1] = fn
	}
	var lines []profLine
	var calls float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 2 && fs[0] == "calls" {
			calls, _ = strconv.ParseFloat(fs[1], 64)
			continue
		}
		if len(fs) != 3 {
			continue
		}
		ln, _ := strconv.Atoi(fs[0])
		ops, _ := strconv.ParseFloat(fs[1], 64)
		cyc, _ := strconv.ParseFloat(fs[2], 64)
		pl := profLine{line: ln, ops: ops / float64(n), cyc: cyc / float64(n), fn: "(outside the library)"}
		if ln > 0 && ln < len(fnOf) {
			pl.fn, pl.text = fnOf[ln], strings.TrimSpace(src[ln-1])
		}
		lines = append(lines, pl)
	}
	if len(lines) == 0 || calls == 0 {
		b.Fatalf("the line profile %s is empty", p.prof)
	}
	// The hook's cost per instruction: the least a line that ran often paid.
	hook := 0.0
	for _, l := range lines {
		if l.ops >= 10 && (hook == 0 || l.cyc/l.ops < hook) {
			hook = l.cyc / l.ops
		}
	}
	var ops, net float64
	byFn := map[string]*profLine{}
	for i := range lines {
		l := &lines[i]
		l.net = max(0, l.cyc-hook*l.ops)
		ops += l.ops
		net += l.net
		t := byFn[l.fn]
		if t == nil {
			t = &profLine{fn: l.fn}
			byFn[l.fn] = t
		}
		t.ops += l.ops
		t.net += l.net
	}
	slices.SortFunc(lines, func(a, b profLine) int { return cmp.Compare(b.net, a.net) })
	fns := make([]*profLine, 0, len(byFn))
	for _, t := range byFn {
		fns = append(fns, t)
	}
	slices.SortFunc(fns, func(a, b *profLine) int { return cmp.Compare(b.net, a.net) })

	unit = cmp.Or(unit, "call")
	var out strings.Builder
	fmt.Fprintf(&out, "%s: %.0f script calls, %d %ss; per %s: %.0f Lua instructions, %.0f k cycles "+
		"(hook's %.0f cycles an instruction taken out)\n", b.Name(), calls, n, unit, unit, ops, net/1000, hook)
	fmt.Fprintf(&out, "\nby function (a nested function counts in the one around it)\n%8s %9s %6s  %s\n",
		"instr", "k cycles", "share", "function")
	for _, t := range fns {
		fmt.Fprintf(&out, "%8.1f %9.1f %5.1f%%  %s\n", t.ops, t.net/1000, 100*t.net/net, t.fn)
	}
	fmt.Fprintf(&out, "\nby line of %s\n%6s %8s %9s %6s  %s\n", filepath.Base(p.lib), "line", "instr", "k cycles",
		"share", "code")
	for _, l := range lines {
		text := l.text
		if r := []rune(text); len(r) > 110 {
			text = string(r[:110]) + "…"
		}
		fmt.Fprintf(&out, "%6d %8.1f %9.1f %5.1f%%  %s  [%s]\n", l.line, l.ops, l.net/1000, 100*l.net/net, text, l.fn)
	}
	if err := os.WriteFile(p.out, []byte(out.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	head := strings.Split(out.String(), "\n")
	b.Logf("line profile in %s; its head:\n%s", p.out, strings.Join(head[:min(len(head), 60)], "\n"))
	b.ReportMetric(ops, "lua-instr/"+unit)
	b.ReportMetric(net/1000, "lua-kcycles/"+unit)
	b.ReportMetric(0, "ns/op")
}
