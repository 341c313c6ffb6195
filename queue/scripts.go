package queue

import (
	"crypto/sha1"
	"embed"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua
var luaFS embed.FS

// scripts holds every state change of the queue, each one Lua script so a
// change is all or nothing.
type scripts struct {
	enqueue, receive, message, outbox, connect, disconnect, presence, accept, reject, end, wrapup, sweep, leave, heartbeat *redis.Script
	hangup, hold, phone, position, lostcalls, reassign, forget, transfer, callback, cbpark, cbunpark, requeue              *redis.Script
}

// onceScripts are the scripts that are not idempotent by themselves (a second
// run makes a second contact, message or job). go-redis sends a command again
// when its reply does not come within the read timeout, and Redis then runs
// both; so each call of these carries its own id as the last argument (see
// Queue.once), and the script stores its result under call:<id> for ten
// minutes: a repeat of the call returns the stored result and changes nothing.
var onceScripts = map[string]bool{"enqueue": true, "receive": true, "message": true, "outbox": true, "ivr_resolve": true}

// keyedScripts are the onceScripts of an intake, whose first argument is
// its idempotency key (empty for none). With a key, the key's record already
// turns a second run into "duplicate", and the contact notes in its field
// cid the call that last changed it and what that call returned, so a
// repeat of that very call returns the same (repeated in common.lua): the
// call:<id> guard is neither read nor written: two commands and a JSON
// encoding less on every intake with a key (every provider's and web form's),
// and no call:<id> key held for ten minutes per contact (214 bytes of Redis
// each: 257 MB at 2,000 contacts/s). Without a key, the guard is as for the
// others.
var keyedScripts = map[string]bool{"enqueue": true, "receive": true}

// onceHead starts a once script's body: the result of the call named by
// its last argument, if stored, is returned again. guard is the Lua
// condition under which the call:<id> guard is kept: always for the
// onceScripts; for the keyedScripts, only when the intake's first argument
// (its idempotency key) is empty.
func onceHead(guard string) string {
	return fmt.Sprintf(`
local CALL_KEY = %s and P .. 'call:' .. ARGV[#ARGV]
local CALL_PREV = CALL_KEY and redis.call('GET', CALL_KEY)
if CALL_PREV then return cjson.decode(CALL_PREV) end
local function CALL_BODY()
`, guard)
}

const onceTail = `
end
local CALL_RES = CALL_BODY()
-- An empty result (an outbox poll that found nothing due) changed nothing:
-- running it again is harmless, so it stores nothing.
if CALL_KEY and (type(CALL_RES) ~= 'table' or (CALL_RES.err == nil and next(CALL_RES) ~= nil)) then
  redis.call('SET', CALL_KEY, cjson.encode(CALL_RES), 'EX', 600)
end
return CALL_RES
`

// prelude is common.lua with the options filled in, the head of every script.
func prelude(o Options) (string, error) {
	common, err := luaFS.ReadFile("lua/common.lua")
	if err != nil {
		return "", err
	}
	chs := make([]string, len(Channels))
	var text []string
	core := []string{"presence", "reason", "sess", "node", "misses", "phone", "n_off", "n_busy", "n_wrap",
		"dstate", "dsince"}
	keys := map[string][]string{}
	var caps []string
	for i, c := range Channels {
		chs[i] = "'" + string(c) + "'"
		core = append(core, "load:"+string(c))
		caps = append(caps, "'cap:"+string(c)+"'")
		if c != ChannelVoice {
			text = append(text, chs[i])
		}
		for _, k := range []string{"load", "cap", "idle", "in"} {
			keys[k] = append(keys[k], fmt.Sprintf("[%s] = '%s:%s'", chs[i], k, c))
		}
	}
	var perChannel []string
	for _, c := range Channels {
		perChannel = append(perChannel, "'idle:"+string(c)+"'", "'in:"+string(c)+"'")
	}
	coreList := make([]string, len(core))
	coreTable := make([]string, len(core))
	for i, f := range core {
		coreList[i] = "'" + f + "'"
		coreTable[i] = fmt.Sprintf("['%s'] = v[o + %d]", f, i+1)
	}
	return strings.NewReplacer(
		"__CHANNELS__", strings.Join(chs, ", "),
		"__AGENT_CORE__", strings.Join(coreList, ", "),
		"__AGENT_CORE_TABLE__", strings.Join(coreTable, ", "),
		"__AGENT_CHANNELS__", strings.Join(perChannel, ", "),
		"__AGENT_CAPS__", strings.Join(caps, ", "),
		"__LOAD_KEYS__", strings.Join(keys["load"], ", "),
		"__CAP_KEYS__", strings.Join(keys["cap"], ", "),
		"__IDLE_KEYS__", strings.Join(keys["idle"], ", "),
		"__IN_KEYS__", strings.Join(keys["in"], ", "),
		"__TEXT_CHANNELS__", strings.Join(text, ", "),
		"__OFFER_MS__", strconv.FormatInt(o.OfferTimeout.Milliseconds(), 10),
		"__RING_MS__", strconv.FormatInt(o.RingTimeout.Milliseconds(), 10),
		"__MAX_MISSES__", strconv.Itoa(o.MaxMisses),
		"__EVENTS_MAXLEN__", strconv.FormatInt(o.EventsMaxLen, 10),
		"__ESC_STEPS__", escSpec(o.Queues),
		"__NOTE_CLOSED__", strconv.FormatBool(o.notesClosed()),
		"__LEGACY_EVENTS__", strconv.FormatBool(o.LegacyEvents),
	).Replace(string(common)), nil
}

// escSpec is every escalation step as ";src>after_ms>dst", by source queue
// and then by after, for esc_steps in common.lua.
func escSpec(defs []Def) string {
	var b strings.Builder
	sorted := append([]Def(nil), defs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, d := range sorted {
		steps := append([]Step(nil), d.Escalation...)
		sort.SliceStable(steps, func(i, j int) bool { return steps[i].After < steps[j].After })
		for _, st := range steps {
			fmt.Fprintf(&b, ";%s>%d>%s", d.Name, st.After.Milliseconds(), st.To)
		}
	}
	return b.String()
}

// withLib are the scripts that have sweeplib.lua after common.lua.
var withLib = map[string]bool{"sweep": true, "leave": true}

// loadScripts makes the scripts, and adds each to byName.
func loadScripts(hs *scriptHeads, byName map[string]*redis.Script) (*scripts, error) {
	load := func(name string) (*redis.Script, error) {
		src, err := hs.source(name)
		if err != nil {
			return nil, err
		}
		byName[name] = redis.NewScript(src)
		return byName[name], nil
	}
	s := &scripts{}
	for name, dst := range map[string]**redis.Script{
		"enqueue": &s.enqueue, "connect": &s.connect, "disconnect": &s.disconnect, "presence": &s.presence,
		"accept": &s.accept, "reject": &s.reject, "end": &s.end, "wrapup": &s.wrapup, "sweep": &s.sweep, "heartbeat": &s.heartbeat,
		"leave": &s.leave, "receive": &s.receive, "message": &s.message, "outbox": &s.outbox,
		"hangup": &s.hangup, "hold": &s.hold, "phone": &s.phone, "position": &s.position, "lostcalls": &s.lostcalls,
		"reassign": &s.reassign,
		"forget":   &s.forget,
		"transfer": &s.transfer, "callback": &s.callback, "cbpark": &s.cbpark, "cbunpark": &s.cbunpark,
		"requeue": &s.requeue,
	} {
		var err error
		if *dst, err = load(name); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// scriptHeads are the heads scripts are cut from: the prelude, and the
// prelude with sweeplib.lua (withLib), each parsed once (New made them
// parse the whole head once per script: 2 s under the race detector), and
// their text whole, for the library (see library).
type scriptHeads struct {
	common, sweep *parsedHead
	pre, lib      string
	bodies        map[string]scriptBody // by script, made once: see body
}

// scriptBody is a script's text after its head, the head it goes after and
// the parts of that head it needs.
type scriptBody struct {
	h    *parsedHead
	need []bool
	text string
}

func newScriptHeads(o Options) (*scriptHeads, error) {
	pre, err := prelude(o)
	if err != nil {
		return nil, err
	}
	lib, err := luaFS.ReadFile("lua/sweeplib.lua")
	if err != nil {
		return nil, err
	}
	return &scriptHeads{common: parseHead(pre), sweep: parseHead(pre + "\n" + string(lib)), pre: pre, lib: string(lib),
		bodies: map[string]scriptBody{}}, nil
}

// source is script name with what it needs of the prelude (and of
// sweeplib.lua) before it. Each script gets only the parts it uses (see
// assemble): Redis runs a script's whole text on every call, and defining
// the prelude's fifty functions cost more than many scripts' own work.
func (hs *scriptHeads) source(name string) (string, error) {
	h, need, text, err := hs.body(name)
	if err != nil {
		return "", err
	}
	return h.build(need, text), nil
}

// body is script name's text after its head (its own, within the once and
// flush wrappers it needs), the head it goes after, and the parts of that
// head it needs. Each script's is made once (the script and the library
// both need it, and finding the parts a text uses reads all its words).
func (hs *scriptHeads) body(name string) (*parsedHead, []bool, string, error) {
	if b, ok := hs.bodies[name]; ok {
		return b.h, b.need, b.text, nil
	}
	body, err := luaFS.ReadFile("lua/" + name + ".lua")
	if err != nil {
		return nil, nil, "", fmt.Errorf("queue: script %s: %w", name, err)
	}
	h := hs.common
	if withLib[name] {
		h = hs.sweep
	}
	text := "\n" + string(body)
	if onceScripts[name] {
		guard := "true"
		if keyedScripts[name] {
			guard = "ARGV[1] == ''"
		}
		text = onceHead(guard) + string(body) + onceTail
	}
	need := h.need(nil, text)
	if slices.ContainsFunc(h.byName["adirty"], func(i int) bool { return need[i] }) {
		// The script writes agents: what it wrote reaches Redis after its
		// body, whichever way the body returns (see aflush in common.lua).
		need = h.need(need, flushTail)
		text = flushHead + text + flushTail
	}
	hs.bodies[name] = scriptBody{h, need, text}
	return h, need, text, nil
}

// perCall finds the lines of a head that set up a script call's state
// ("local name, … = value, … -- per call"): in a script they run on every
// call with the rest of its text; in the library (see library) they are
// declared once and set again at the start of every call.
var perCall = regexp.MustCompile(`(?m)^local ([A-Za-z_][A-Za-z0-9_, ]*?) = (.+?) -- per call$`)

// perCallSplit is head text with its per-call lines cut down to their
// declarations, and the assignments that set those names up for a call.
func perCallSplit(head string) (decl, setup string) {
	var b strings.Builder
	decl = perCall.ReplaceAllStringFunc(head, func(line string) string {
		m := perCall.FindStringSubmatch(line)
		fmt.Fprintf(&b, "  %s = %s\n", m[1], m[2])
		return "local " + m[1]
	})
	return decl, b.String()
}

// library is every script in names as one Redis Functions library (Redis
// 7.0 and later): the prelude and sweeplib.lua are defined once, when the
// library is loaded, not on every call as a script's head is, and each
// script is a function that sets up its call's state (perCall) and runs
// its text. The library's name and its functions' names carry a hash of
// its text, so nodes with other options or another version have libraries
// of their own; and of the deployment's tag, so a deployment tells its own
// libraries (libraryScope) from another's on the same Redis. fns maps each
// script's name to its function's.
func (hs *scriptHeads) library(names []string, tag string) (name, code string, fns map[string]string, err error) {
	pre, preSetup := perCallSplit(hs.pre)
	lib, libSetup := perCallSplit(hs.lib)
	var b strings.Builder
	b.WriteString("local KEYS, ARGV\n")
	b.WriteString(pre)
	fmt.Fprintf(&b, "\nlocal function BEGIN(keys, args)\n  KEYS, ARGV = keys, args\n%send\n", preSetup)
	b.WriteString(lib)
	fmt.Fprintf(&b, "\nlocal function BEGIN_LIB()\n%send\n", libSetup)
	for _, script := range names {
		_, _, text, err := hs.body(script)
		if err != nil {
			return "", "", nil, err
		}
		begin := "BEGIN(keys, args)\n"
		if withLib[script] {
			begin += "BEGIN_LIB()\n"
		}
		fmt.Fprintf(&b, "\nredis.register_function('lx_@_%s', function(keys, args)\n%s%s\nend)\n", script, begin, text)
	}
	sum := sha1.Sum([]byte(b.String() + "\x00" + tag))
	h := hex.EncodeToString(sum[:8])
	fns = map[string]string{}
	for _, script := range names {
		fns[script] = "lx_" + h + "_" + script
	}
	name = libraryScope(tag) + h
	return name, "#!lua name=" + name + "\n" + strings.ReplaceAll(b.String(), "'lx_@_", "'lx_"+h+"_"), fns, nil
}

// libraryScope is the start of the names of deployment tag's libraries.
func libraryScope(tag string) string {
	sum := sha1.Sum([]byte(tag))
	return "lianxin_" + hex.EncodeToString(sum[:4]) + "_"
}

const flushHead = `
local function SCRIPT_BODY()
`

const flushTail = `
end
local SCRIPT_RES = SCRIPT_BODY()
aflush()
return SCRIPT_RES
`

// A part of a prelude starts at its left margin with "local …" (a function
// or a value) or "name = function" (the body of a function declared above
// with "local name", to be used before its definition), and runs to the
// next such line.
var (
	partStart = regexp.MustCompile(`(?m)^(?:local |[A-Za-z_][A-Za-z0-9_]* = function)`)
	partNames = regexp.MustCompile(`^(?:local (?:function ([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_, ]*?)\s*(?:=|\n))|([A-Za-z_][A-Za-z0-9_]*) = function)`)
	luaWord   = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
	luaNote   = regexp.MustCompile(`--[^\n]*`)
	luaText   = regexp.MustCompile(`'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"`)
)

// assemble puts before body the parts of head that body uses, directly or
// through other parts, in head's order (a Lua local can only use what is
// defined above it, so the order stays right). A part is used when its name
// appears as a word outside comments and string literals (an error text
// naming an "offer" brought offer and all it uses into accept, and Redis
// runs every part's definition on every call). TestScriptsUseNoUnknownGlobals
// checks every script.
func assemble(head, body string) string {
	h := parseHead(head)
	return h.build(h.need(nil, body), body)
}

// parsedHead is a head of scripts split into its parts, with the parts
// each part uses.
type parsedHead struct {
	lead   string // the text before the first part
	parts  []string
	byName map[string][]int
	uses   [][]int // uses[i]: the parts that part i names
}

func parseHead(head string) *parsedHead {
	h := &parsedHead{lead: head, byName: map[string][]int{}}
	starts := partStart.FindAllStringIndex(head, -1)
	if len(starts) > 0 {
		h.lead = head[:starts[0][0]]
	}
	h.parts = make([]string, len(starts))
	for i, st := range starts {
		end := len(head)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		h.parts[i] = head[st[0]:end]
		m := partNames.FindStringSubmatch(h.parts[i])
		if m == nil {
			continue
		}
		names := m[1] + m[2] + m[3] // one of them is set
		for _, n := range strings.Split(names, ",") {
			h.byName[strings.TrimSpace(n)] = append(h.byName[strings.TrimSpace(n)], i)
		}
	}
	h.uses = make([][]int, len(h.parts))
	for i, p := range h.parts {
		h.uses[i] = h.named(p)
	}
	return h
}

// need marks in need (nil: a new one) the parts text uses and the parts
// they use, and returns it.
func (h *parsedHead) need(need []bool, text string) []bool {
	if need == nil {
		need = make([]bool, len(h.parts))
	}
	var use func(parts []int)
	use = func(parts []int) {
		for _, i := range parts {
			if !need[i] {
				need[i] = true
				use(h.uses[i])
			}
		}
	}
	use(h.named(text))
	return need
}

// build is the head's lead, the parts marked in need, and body.
func (h *parsedHead) build(need []bool, body string) string {
	var b strings.Builder
	b.WriteString(h.lead)
	for i, p := range h.parts {
		if need[i] {
			b.WriteString(p)
		}
	}
	b.WriteString(body)
	return b.String()
}

// named lists the parts whose names text uses as words outside comments
// and string literals.
func (h *parsedHead) named(text string) []int {
	code := luaText.ReplaceAllString(luaNote.ReplaceAllString(text, ""), "''")
	var out []int
	for _, w := range luaWord.FindAllString(code, -1) {
		out = append(out, h.byName[w]...)
	}
	return out
}
