package queue

import (
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// luaGlobals are the globals Redis gives a script; a script that reads any
// other global reads nil, and fails only on the path that reaches it.
var luaGlobals = map[string]bool{
	"redis": true, "cjson": true, "KEYS": true, "ARGV": true, "tonumber": true, "tostring": true, "type": true,
	"pairs": true, "ipairs": true, "next": true, "unpack": true, "select": true, "string": true, "table": true,
	"math": true, "error": true, "pcall": true, "rawget": true, "rawset": true, "setmetatable": true,
}

// TestScriptsUseNoUnknownGlobals compiles every script as it is sent to
// Redis (the prelude cut to what it uses, see assemble) and checks that it
// reads no global but Redis's and sets none: a part of the prelude it needs
// and did not get would be one.
func TestScriptsUseNoUnknownGlobals(t *testing.T) {
	hs := testHeads(t)
	whole := len(hs.sweep.lead) // the prelude and sweeplib.lua
	for _, p := range hs.sweep.parts {
		whole += len(p)
	}
	files, err := luaFS.ReadDir("lua")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		name := strings.TrimSuffix(f.Name(), ".lua")
		if name == "common" || name == "sweeplib" || name == "offer_deadline" {
			continue
		}
		src, err := hs.source(name)
		if err != nil {
			t.Fatal(err)
		}
		chunk, err := parse.Parse(strings.NewReader(src), name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		proto, err := lua.Compile(chunk, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var bad []string
		globals(proto, func(op, g string) {
			if op == "set" || !luaGlobals[g] {
				bad = append(bad, op+" "+g)
			}
		})
		sort.Strings(bad)
		if len(bad) > 0 {
			t.Errorf("script %s uses unknown globals: %s", name, strings.Join(bad, ", "))
		}
		if len(src) >= whole+len(f.Name())+2000 {
			t.Errorf("script %s got the whole prelude", name)
		}
		n++
	}
	if n < 25 {
		t.Fatalf("checked %d scripts", n)
	}
}

// testHeads are the script heads of a queue with an escalation step.
func testHeads(t *testing.T) *scriptHeads {
	t.Helper()
	o := Options{NodeID: "n", Queues: []Def{{Name: "general", Escalation: []Step{{After: 60e9, To: "labour"}}}, {Name: "labour"}}}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	hs, err := newScriptHeads(o)
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// globals calls fn for every global a function (and the functions in it)
// reads ("get") or sets ("set").
func globals(p *lua.FunctionProto, fn func(op, name string)) {
	for _, inst := range p.Code {
		op := int(inst >> 26)
		bx := int(inst & 0x3ffff)
		switch op {
		case lua.OP_GETGLOBAL:
			fn("get", p.Constants[bx].String())
		case lua.OP_SETGLOBAL:
			fn("set", p.Constants[bx].String())
		}
	}
	for _, sub := range p.FunctionPrototypes {
		globals(sub, fn)
	}
}

func TestAssembleTakesWhatIsUsed(t *testing.T) {
	head := "local P = KEYS[1]\n" +
		"local function a() return 1 end\n" +
		"-- b uses a\nlocal function b() return a() end\n" +
		"local later\n" +
		"local function c() return later() end\n" +
		"local function unused() return P end\n" +
		"later = function() return b() end\n" +
		"local x, y = 1, 2\n"
	got := assemble(head, "\nreturn c() + y\n")
	want := "local function a() return 1 end\n" +
		"-- b uses a\nlocal function b() return a() end\n" +
		"local later\n" +
		"local function c() return later() end\n" +
		"later = function() return b() end\n" +
		"local x, y = 1, 2\n" +
		"\nreturn c() + y\n"
	if got != want {
		t.Fatalf("assemble:\n%s\nwant:\n%s", got, want)
	}
	// A name in a string literal (an error's text) is not a use.
	if got, want := assemble(head, "\nreturn 'no unused' .. \"a c\" .. y\n"),
		"local x, y = 1, 2\n\nreturn 'no unused' .. \"a c\" .. y\n"; got != want {
		t.Fatalf("assemble with names in strings:\n%s\nwant:\n%s", got, want)
	}
}

// TestLibraryUsesNoUnknownGlobals compiles the scripts' library (every
// script a function, see scriptHeads.library) and checks that it reads no
// global but Redis's and sets none: in a function KEYS and ARGV are not
// globals but each call's (BEGIN).
func TestLibraryUsesNoUnknownGlobals(t *testing.T) {
	hs := testHeads(t)
	byName := map[string]*redis.Script{}
	if _, err := loadScripts(hs, byName); err != nil {
		t.Fatal(err)
	}
	if _, err := loadIVRScripts(hs, byName); err != nil {
		t.Fatal(err)
	}
	var f funcs
	if err := f.init(hs, byName, "lianxin", "{lianxin}:", time.Now); err != nil {
		t.Fatal(err)
	}
	if len(f.of) != len(byName) || len(f.of) < 29 {
		t.Fatalf("%d functions of %d scripts", len(f.of), len(byName))
	}
	first, code, _ := strings.Cut(f.code, "\n")
	if !strings.HasPrefix(first, "#!lua name=lianxin_") {
		t.Fatalf("library's first line %q", first)
	}
	for _, fn := range f.of {
		if !strings.Contains(code, "redis.register_function('"+fn+"', ") {
			t.Errorf("function %s is not in the library", fn)
		}
	}
	chunk, err := parse.Parse(strings.NewReader(code), "library")
	if err != nil {
		t.Fatal(err)
	}
	proto, err := lua.Compile(chunk, "library")
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	globals(proto, func(op, g string) {
		if op == "set" || !luaGlobals[g] || g == "KEYS" || g == "ARGV" {
			bad = append(bad, op+" "+g)
		}
	})
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("the library uses unknown globals: %s", strings.Join(bad, ", "))
	}
}

// TestHeadStateIsSetUpPerCall: in the library the heads' top-level locals
// live as long as the library, so one a call changes must be set up again
// for every call ("-- per call", see perCall), or one call would see
// another's agents, events or budget. Every other top-level local of
// common.lua and sweeplib.lua is written nowhere in the scripts but where
// it is defined.
func TestHeadStateIsSetUpPerCall(t *testing.T) {
	var all strings.Builder
	files, err := luaFS.ReadDir("lua")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := luaFS.ReadFile("lua/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
		all.WriteString("\n")
	}
	code := luaText.ReplaceAllString(luaNote.ReplaceAllString(all.String(), ""), "''")
	topLocal := regexp.MustCompile(`(?m)^local ([A-Za-z_][A-Za-z0-9_, ]*?)\s*(?:=.*)?$`)
	checked, perCallNames := 0, 0
	for _, head := range []string{"common.lua", "sweeplib.lua"} {
		b, err := luaFS.ReadFile("lua/" + head)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			m := topLocal.FindStringSubmatch(line)
			if m == nil || strings.HasPrefix(line, "local function ") {
				continue
			}
			if perCall.MatchString(line) {
				perCallNames++
				continue
			}
			for _, name := range strings.Split(m[1], ",") {
				name = strings.TrimSpace(name)
				n := regexp.QuoteMeta(name)
				// name = …, name[…] = …, name.f = …, name, other = …, other, name = …;
				// not local name = … (another variable), nor a top-level
				// name = function (a function declared above, defined once).
				written := regexp.MustCompile(`(?m)(?:^|[^\w.])(?:local\s+)?` + n + `\s*(?:\[[^\]\n]*\]|\.\w+)?\s*(?:,[\w\s,]*)?=[^=]|[\w\s]*,\s*` + n + `\s*=[^=]|table\.insert\(\s*` + n + `\b`)
				for _, w := range written.FindAllStringIndex(code, -1) {
					pos := w[0] + strings.Index(code[w[0]:], name)
					before := strings.TrimSpace(code[strings.LastIndex(code[:pos], "\n")+1 : pos])
					if before == "local" || strings.HasPrefix(before, "local ") || before == "" && strings.HasPrefix(code[pos:], name+" = function") {
						continue // a declaration (another variable, or this one's own), or a function defined once
					}
					t.Errorf("%s: top-level %s is written (%q) but not set up per call", head, name,
						strings.TrimSpace(code[w[0]:w[1]]))
				}
				checked++
			}
		}
	}
	if checked < 15 || perCallNames < 13 {
		t.Fatalf("checked %d top-level locals, %d per-call lines", checked, perCallNames)
	}
}

type redisErr string

func (e redisErr) Error() string { return string(e) }
func (redisErr) RedisError()     {}

// TestNoCommand: only Redis refusing FCALL or FUNCTION itself turns the
// queue to scripts; an error a function's own command met does not (the
// call may have written: it is not made again as a script).
func TestNoCommand(t *testing.T) {
	for msg, want := range map[string]bool{
		"ERR unknown command 'FCALL', with args beginning with: 'lx_1'":                       true, // Redis 6
		"ERR unknown command `fcall`, with args beginning with: `lx_1`":                       true, // the embedded store
		"ERR unknown command `function`, with args beginning with: `LOAD`":                    true, // the embedded store
		"NOPERM User lianxin has no permissions to run the 'fcall' command":                   true, // an ACL
		"NOPERM User lianxin has no permissions to run the 'function|load' command":           true,
		"NOPERM User lianxin has no permissions to run the 'xadd' command script: lx_1":       false,
		"ERR Unknown Redis command called from script script: lx_1_accept, on @user_function": false,
		"ERR Function not found":             false,
		"NOT_FOUND no contact 2612010000001": false,
	} {
		if got := noCommand(redisErr(msg)); got != want {
			t.Errorf("noCommand(%q) = %v, want %v", msg, got, want)
		}
	}
}
