package queue

import (
	"sort"
	"strings"
	"testing"

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
	o := Options{NodeID: "n", Queues: []Def{{Name: "general", Escalation: []Step{{After: 60e9, To: "labour"}}}, {Name: "labour"}}}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	hs, err := newScriptHeads(o)
	if err != nil {
		t.Fatal(err)
	}
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
