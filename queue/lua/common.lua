-- Shared by every script. KEYS[1] is the deployment's key prefix, e.g.
-- "{lianxin}:". Every key is derived from it, so all of them carry the same
-- hash tag and live in one Redis Cluster slot.
-- The Go side fills in OFFER_MS, RING_MS, MAX_MISSES, EVENTS_MAXLEN,
-- NOTE_CLOSED and LEGACY_EVENTS.
-- A line that ends "-- per call" sets up state of one call (of a script or
-- of the library's function: see scriptHeads.library, which sets such
-- names up again at the start of every call). Any other top-level value
-- lives as long as the library and is never written by a call
-- (TestHeadStateIsSetUpPerCall).
local P = KEYS[1] -- per call
local OFFER_MS = __OFFER_MS__
local RING_MS = __RING_MS__
local MAX_MISSES = __MAX_MISSES__
local EVENTS_MAXLEN = __EVENTS_MAXLEN__
-- NOTE_CLOSED: closed contacts leave Redis after a retention and no
-- archiver forgets them (Options.Retention > 0, no Options.Archive), so
-- closed_ev notes them in the set "closed".
local NOTE_CLOSED = __NOTE_CLOSED__
-- LEGACY_EVENTS: events carry an agent's status as the eight fields
-- versions before "astat" read (queue.Options.LegacyEvents; see status).
local LEGACY_EVENTS = __LEGACY_EVENTS__
-- The escalation steps, ";src>after_ms>dst" each, by source queue and then
-- by after (see esc_track).
local ESC_SPEC = [==[__ESC_STEPS__]==]
local CHANNELS = {__CHANNELS__} -- queue.Channels
local TEXT_CHANNELS = {__TEXT_CHANNELS__} -- CHANNELS but voice

-- With EVENTS_MAXLEN 0 the stream is not trimmed here: the archiver trims
-- it below what it has archived.
local EVENTS_MAXLEN_ARG = '' .. EVENTS_MAXLEN -- not string.format: a library's load cannot reach it
local function ev(...)
  if EVENTS_MAXLEN <= 0 then return redis.call('XADD', P .. 'events', '*', ...) end
  return redis.call('XADD', P .. 'events', 'MAXLEN', '~', EVENTS_MAXLEN_ARG, '*', ...)
end

-- closed_ev appends contact tn's closed event (fields as ev's) and, with
-- NOTE_CLOSED, notes tn in the set "closed" at the event's time (Redis's
-- clock, the ms of its id), where Tidy forgets it once the retention is
-- over. Every close goes through here: noted as it closes, no reader of
-- the whole event stream has to find the closed events (see Queue.Tidy).
local function closed_ev(tn, ...)
  local id = ev(...)
  if NOTE_CLOSED then redis.call('ZADD', P .. 'closed', string.match(id, '^%d+'), tn) end
  return id
end

local function hgetall(key)
  local flat = redis.call('HGETALL', key)
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h, flat
end

-- Numbers go to commands as strings, and small counts come back from them
-- as strings: a Lua number given to redis.call is formatted with "%.17g"
-- (some 3,000 instructions for a time in ms), and tonumber of a string
-- calls strtod. I formats an integer with '%d' (a tenth of that), once per
-- call for each value (a time goes to several commands); num reads the
-- small counts an agent and a contact hold (loads, capacities, offers)
-- from a table. Together they were a tenth of a lifecycle's instructions
-- in Redis (callgrind).
local SMALL, SMALL_STR = (function()
  local n, s = {}, {}
  for i = -9, 99 do n['' .. i], s[i] = i, '' .. i end
  return n, s
end)()
local int_str = {} -- per call
local function I(n)
  local s = SMALL_STR[n] or int_str[n]
  if not s then
    if n % 1 ~= 0 then return tostring(n) end -- not an integer: as tostring has it
    s = string.format('%d', n)
    int_str[n] = s
  end
  return s
end

local function num(v)
  if not v then return 0 end
  return SMALL[v] or tonumber(v) or 0
end

-- Agents are read once per script and kept here. An agent hash holds:
-- name, skills ("q=5,…"), presence, reason, sess, node, grp, misses,
-- cap:<ch>, load:<ch> (offers + held), idle:<ch> (ms), in:<ch> (see
-- refresh), n_off, n_busy, n_wrap (open offers, assigned and wrap-up
-- contacts), dstate, dsince, phone (ms until which the agent's SIP phone is
-- registered) and miss_until (ms; offers expiring before it were counted
-- with the last missed one).
-- A script reads only what it uses: first the fields of AGENT_CORE (what
-- the agent's status needs: the state and every channel's load), with the
-- group and the capacity, idle and in of the channel the script is about
-- (agent's ch), then a channel's idle and in together when one of them is
-- read, and any other field alone when it is read (agent_more reads the
-- routing fields of every channel at once, for a look at every channel). A
-- field the hash lacks reads false (not nil: it was read), which every use
-- takes as nil. Every field read costs Redis some 1,500 instructions (its
-- lookup, its reply, and its string and slot in Lua's table: HMGET of 26
-- fields 46 k, of 1 field 6 k), so the capacities and the group, which an
-- accept or a wrap-up with nothing waiting never looks at, are not read
-- with the rest. Reading the whole hash (some 45 fields) into Lua cost
-- more than the commands of many scripts.
-- Writes (aset, aincr) change the cached agent at once and reach Redis in
-- one HSET per agent when the script ends (aflush, called after the body
-- of every script that writes an agent: see scriptSource).
-- AGENT_CORE lists the fields; agent_core(v, o) is the agent table of
-- HMGET's reply v from v[o + 1] on, in AGENT_CORE's order (a constructor
-- of the table at its size, not a table grown field by field).
local AGENT_CORE = {__AGENT_CORE__}
local function agent_core(v, o) return {__AGENT_CORE_TABLE__} end
-- The per-channel field names, so they are not built again and again.
local LOAD_KEY, CAP_KEY, IDLE_KEY, IN_KEY = {__LOAD_KEYS__}, {__CAP_KEYS__}, {__IDLE_KEYS__}, {__IN_KEYS__}
local agents, agent_ids, agent_dirty, dirty_order, agent_ver = {}, {}, {}, {}, {} -- per call
local CHANNEL_PART = {idle = true, ['in'] = true}
local agent_mt = {__index = function(h, k)
  if string.byte(k, 1) == 0 then return nil end
  local fields = {k}
  local kind, ch = string.match(k, '^(%a+):(.+)$')
  if kind and CHANNEL_PART[kind] then fields = {'idle:' .. ch, 'in:' .. ch} end
  local v = redis.call('HMGET', P .. 'a:' .. agent_ids[h], unpack(fields))
  for i, f in ipairs(fields) do rawset(h, f, v[i]) end
  return rawget(h, k)
end}
local function agent(id, ch)
  local h = agents[id]
  if not h then
    if ch then
      local idle, inn, cap = IDLE_KEY[ch] or ('idle:' .. ch), IN_KEY[ch] or ('in:' .. ch), CAP_KEY[ch] or ('cap:' .. ch)
      local v = redis.call('HMGET', P .. 'a:' .. id, idle, inn, cap, 'grp', unpack(AGENT_CORE))
      h = agent_core(v, 4)
      h[idle], h[inn], h[cap], h.grp = v[1], v[2], v[3], v[4]
    else
      h = agent_core(redis.call('HMGET', P .. 'a:' .. id, unpack(AGENT_CORE)), 0)
    end
    agent_ids[h] = id
    setmetatable(h, agent_mt)
    agents[id] = h
  end
  return h
end

-- agent_more reads the fields of list that agent table h has not read
-- yet, in one HMGET (a look at every channel, instead of one per channel).
-- AGENT_ROUTING: every channel's idle, in and capacity, and the group;
-- AGENT_CAPS: every channel's capacity.
local AGENT_ROUTING = {__AGENT_CHANNELS__, __AGENT_CAPS__, 'grp'}
local AGENT_CAPS = {__AGENT_CAPS__}
local function agent_more(h, list)
  local need = {}
  for _, f in ipairs(list) do
    if rawget(h, f) == nil then need[#need + 1] = f end
  end
  if #need == 0 then return end
  local v = redis.call('HMGET', P .. 'a:' .. agent_ids[h], unpack(need))
  for i, f in ipairs(need) do rawset(h, f, v[i]) end
end

-- HASH_TABLE is a value longer than Redis's hash-max-listpack-value (64
-- bytes unless configured otherwise): an agent's hash holding it is a hash
-- table, not a listpack, for good. A script reads twenty-odd of an agent's
-- ~45 fields at a time (agent, status), and in a listpack each field read
-- or written is a scan of the whole hash: with one skill (a short "skills"
-- value, so nothing longer than 64 bytes), those scans were 11 % of the
-- instructions Redis ran for a contact's lifecycle. As a table the hash
-- takes 1–2 KB more (MEMORY USAGE of 26 and 45 such fields: 688 → 1,872
-- and 1,072 → 3,192 bytes), some 10 MB for 5,000 agents (BenchmarkScripts
-- under callgrind; TestAgentHashIsAHashTable).
local HASH_TABLE = '-- an agent hash of ~45 fields read 20 at a time: a hash table, not a listpack --'

local function adirty(id)
  agent_ver[id] = (agent_ver[id] or 0) + 1
  local d = agent_dirty[id]
  if not d then
    d = {}
    agent_dirty[id] = d
    dirty_order[#dirty_order + 1] = id
  end
  return d
end

-- aset writes its field, value pairs one by one (aput calls itself on
-- the rest, a tail call), not through a table of them: it runs several
-- times a call (status on every contact event).
local function aput(h, d, k, v, ...)
  local t = type(v)
  if t == 'number' then v = I(v) elseif t ~= 'string' then v = tostring(v) end
  rawset(h, k, v)
  d[k] = v
  if k == 'skills' then h['\0skills'] = nil end
  if ... ~= nil then return aput(h, d, ...) end
end

local function aset(id, ...)
  aput(agent(id), adirty(id), ...)
end

local function aincr(id, field, n)
  local h = agent(id)
  local v = num(h[field]) + n
  local s = I(v)
  rawset(h, field, s)
  adirty(id)[field] = s
  return v
end

-- aflush writes what aset and aincr changed, one HSET per agent.
local function aflush()
  for _, id in ipairs(dirty_order) do
    local args = {}
    for k, v in pairs(agent_dirty[id]) do
      args[#args + 1] = k
      args[#args + 1] = v
    end
    redis.call('HSET', P .. 'a:' .. id, unpack(args))
  end
  agent_dirty, dirty_order = {}, {}
end

-- skills are stored as "general=5,enterprise=3".
local function skill_list(s)
  local t = {}
  for q in string.gmatch(s or '', '([^,=]+)=%d+') do t[#t + 1] = q end
  return t
end

local function connected(h) return (h.sess or '') ~= '' end

local function phone_up(h, now) return num(h.phone) > now end

-- on_call says whether agent h is on a call; line_free whether channel ch
-- may ring or reach agent h at now, whatever its load, calling being
-- on_call(h): a call needs the agent's phone registered, a letter or a
-- chat no call in talk.
local function on_call(h)
  local v = h['load:voice']
  return v and v ~= '0' and num(v) ~= 0
end
local function line_free(h, ch, now, calling)
  if ch == 'voice' then return phone_up(h, now) end
  return not calling
end
-- can_take says whether an agent may be offered one more contact on ch at
-- now: ready, connected, below capacity, and not on a call (a call is
-- exclusive; letters and chats do not keep a call away). A call also needs
-- the agent's phone registered.
local function can_take(h, ch, now)
  if h.presence ~= 'ready' or not connected(h) then return false end
  if num(h[LOAD_KEY[ch] or ('load:' .. ch)]) >= num(h[CAP_KEY[ch] or ('cap:' .. ch)]) then return false end
  return line_free(h, ch, now, ch ~= 'voice' and on_call(h))
end

-- Agents with the same skills form a group (field grp: the Go side names it
-- from the sorted skill names). avg:<channel>:<grp> holds the group's agents
-- that can take one more contact on that channel, scored by when each last
-- became idle on it (lowest = longest idle); qg:<queue> holds the groups
-- with that skill. An agent's field in:<channel> is its score in its set
-- ('' or none: not in it), so a change writes only what flipped: routing
-- costs the same with 1 skill or 14.
-- With only_ch, a text channel whose load alone changed, only that channel
-- is looked at: a text channel's load decides no other channel's
-- eligibility (a call's does: voice looks at every channel).
local function refresh(id, now, only_ch)
  local h = agent(id)
  local chs = CHANNELS
  if only_ch and only_ch ~= 'voice' then chs = {only_ch} else agent_more(h, AGENT_ROUTING) end
  local grp = h.grp or ''
  if grp == '' then return end
  local flips = {}
  for _, ch in ipairs(chs) do
    local ink = IN_KEY[ch] or ('in:' .. ch)
    local have = h[ink] or ''
    if have ~= '' or num(h[CAP_KEY[ch] or ('cap:' .. ch)]) > 0 then
      local want = ''
      if can_take(h, ch, now) then want = h[IDLE_KEY[ch] or ('idle:' .. ch)] or '0' end
      if want ~= have then
        local key = P .. 'avg:' .. ch .. ':' .. grp
        if want ~= '' then redis.call('ZADD', key, want, id) else redis.call('ZREM', key, id) end
        flips[#flips + 1] = ink
        flips[#flips + 1] = want
      end
    end
  end
  if #flips > 0 then aset(id, unpack(flips)) end
end

-- withdraw takes the agent out of every available set of its group.
local function withdraw(id)
  local h = agent(id)
  agent_more(h, AGENT_ROUTING)
  local flips = {}
  for _, ch in ipairs(CHANNELS) do
    if (h['in:' .. ch] or '') ~= '' then
      redis.call('ZREM', P .. 'avg:' .. ch .. ':' .. (h.grp or ''), id)
      flips[#flips + 1] = 'in:' .. ch
      flips[#flips + 1] = ''
    end
  end
  if #flips > 0 then aset(id, unpack(flips)) end
end

-- The groups with skill q, read once per script.
local qgroups = {} -- per call
local function groups_of(q)
  local g = qgroups[q]
  if not g then
    g = redis.call('SMEMBERS', P .. 'qg:' .. q)
    qgroups[q] = g
  end
  return g
end

-- longest_idle lists the (at most two) longest-idle agents that can take
-- one more contact on ch and have skill q.
local function longest_idle(q, ch)
  local gs = groups_of(q)
  if #gs == 1 then return redis.call('ZRANGE', P .. 'avg:' .. ch .. ':' .. gs[1], 0, 1) end
  local all = {}
  for _, g in ipairs(gs) do
    local r = redis.call('ZRANGE', P .. 'avg:' .. ch .. ':' .. g, 0, 1, 'WITHSCORES')
    for i = 1, #r, 2 do all[#all + 1] = {tonumber(r[i + 1]), r[i]} end
  end
  table.sort(all, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local ids = {}
  for i = 1, math.min(2, #all) do ids[i] = all[i][2] end
  return ids
end

-- Waiting contacts: w:<queue>:<channel>, scored by rank (priority, then
-- age). hd:<channel> holds each queue with contacts waiting on the channel,
-- scored by the rank of its head, so an agent who frees up looks only at
-- queues with work, best first. Every change of w: goes through wadd and
-- wrem, which keep hd: right.
local function whead(q, ch)
  local r = redis.call('ZRANGE', P .. 'w:' .. q .. ':' .. ch, 0, 0, 'WITHSCORES')
  if #r == 0 then redis.call('ZREM', P .. 'hd:' .. ch, q)
  else redis.call('ZADD', P .. 'hd:' .. ch, r[2], q) end
end

local function wadd(q, ch, rank, tn)
  redis.call('ZADD', P .. 'w:' .. q .. ':' .. ch, rank, tn)
  local cur = redis.call('ZSCORE', P .. 'hd:' .. ch, q)
  if not cur or tonumber(rank) < tonumber(cur) then redis.call('ZADD', P .. 'hd:' .. ch, rank, q) end
end

local function wrem(q, ch, tn)
  if redis.call('ZREM', P .. 'w:' .. q .. ':' .. ch, tn) == 1 then whead(q, ch) end
end

-- derived is the agent's state as the desk and the statistics see it.
-- A count of '0' (most of them, most of the time) is told without num.
local function derived(h)
  local pr = h.presence
  if not pr or pr == 'logged_out' or not connected(h) then return 'logged_out' end
  local v = h.n_off
  if v and v ~= '0' and num(v) > 0 then return 'offered' end
  v = h.n_busy
  if v and v ~= '0' and num(v) > 0 then return 'busy' end
  v = h.n_wrap
  if v and v ~= '0' and num(v) > 0 then return 'wrap_up' end
  return pr
end

-- loads is the agent's load per channel as events carry it ("sms=1,web=2",
-- channels in CHANNELS' order, none at 0). It runs on every contact event
-- (status): a loop over a list made once, no table per call.
local LOAD_FIELD, LOAD_PART = (function()
  local f, p = {}, {}
  for i = 1, #CHANNELS do f[i], p[i] = LOAD_KEY[CHANNELS[i]], CHANNELS[i] .. '=' end
  return f, p
end)()
local function loads(h)
  local out
  for i = 1, #LOAD_FIELD do
    local v = h[LOAD_FIELD[i]]
    if v and v ~= '0' and num(v) > 0 then
      if out then out = out .. ',' .. LOAD_PART[i] .. v else out = LOAD_PART[i] .. v end
    end
  end
  return out or ''
end

-- Agents whose state may have changed in this script; emit_states reports
-- each once, at the end.
local touched, touched_order = {}, {} -- per call
local function touch(id)
  if id and id ~= '' and not touched[id] then
    touched[id] = true
    touched_order[#touched_order + 1] = id
  end
end

-- status is an agent's state as events carry it, so it can ride along with
-- a contact's fields: one field "astat", "state|since|load|misses|phone|
-- presence|session|reason" (the reason, free text, last), or with
-- LEGACY_EVENTS the eight fields "a_state", "a_since", … that versions
-- before it write and read (queue.Options.LegacyEvents). Every field given
-- to XADD costs Redis a conversion each way: the eight were some 5 % of a
-- lifecycle's instructions.
local function status(id, now)
  local h = agent(id)
  local st = derived(h)
  if h.dstate ~= st then aset(id, 'dstate', st, 'dsince', now) end
  local ph = ''
  if phone_up(h, now) then ph = '1' end
  if not LEGACY_EVENTS then
    return {'astat', st .. '|' .. (h.dsince or '') .. '|' .. loads(h) .. '|' .. (h.misses or '0') .. '|' .. ph ..
      '|' .. (h.presence or '') .. '|' .. (h.sess or '') .. '|' .. (h.reason or '')}
  end
  return {'a_state', st, 'a_presence', h.presence or '', 'a_reason', h.reason or '', 'a_since', h.dsince or '',
    'a_load', loads(h), 'a_misses', h.misses or '0', 'a_sess', h.sess or '', 'a_phone', ph}
end

local function same(a, b)
  if not a or #a ~= #b then return false end
  for i = 1, #a do
    if a[i] ~= b[i] then return false end
  end
  return true
end

-- The status each agent's last event carried, so none is sent twice, and
-- the agent's version (agent_ver) then: an agent not written since has the
-- same status.
local emitted, emitted_ver = {}, {} -- per call

-- with_status appends agent id's status to event fields.
local function with_status(fields, id, now)
  local f = status(id, now)
  local n = #fields
  for i = 1, #f do fields[n + i] = f[i] end
  emitted[id], emitted_ver[id] = f, agent_ver[id]
  return fields
end

-- emit_states reports every touched agent whose status changed since its
-- last event in this script.
local function emit_states(now)
  for _, id in ipairs(touched_order) do
    if not emitted_ver[id] or emitted_ver[id] ~= agent_ver[id] then
      local f = status(id, now)
      if not same(emitted[id], f) then
        local args = {'type', 'agent', 'agent', id, 'node', agent(id).node or ''}
        for _, v in ipairs(f) do args[#args + 1] = v end
        ev(unpack(args))
        emitted[id] = f
      end
      emitted_ver[id] = agent_ver[id]
    end
  end
end

-- contact_event emits an event about contact tn carrying the fields f of it
-- that this change set (the rest readers load: Queue.SubscribeFrom) and the
-- status of agent id. Events stay small whatever the contact holds.
local function contact_event(typ, tn, f, id, now)
  local args = {'type', typ, 'node', agent(id).node or '', 'contact', tn}
  for k, v in pairs(f) do
    if v then -- a field the contact does not have reads false
      args[#args + 1] = k
      if type(v) == 'number' then v = I(v) end
      args[#args + 1] = v
    end
  end
  ev(unpack(with_status(args, id, now)))
end

-- waits_in lists the queues a contact waits in: its own, then those it has
-- escalated to ("esc" holds "q1,q2").
local function waits_in(f)
  local qs = {f.queue}
  for e in string.gmatch(f.esc or '', '[^,]+') do qs[#qs + 1] = e end
  return qs
end

-- Calls by state: a live call (one whose caller is on the line) is in the
-- welcome and menu (ivr: answered, not queued yet), waiting, ringing or
-- talking; callstats counts them per queue ("q:ivr", "q:waiting", …),
-- with running totals "q:answered", "q:abandoned" and "q:callbacks".
-- A contact's field cst holds its call's state ('' when there is no call),
-- cnode the node holding the call's media (not "node": events carry the
-- contact's fields, and their "node" is the node of the agent's desk).
-- cstate moves a live call from state old to new; a contact without a live
-- call (old '') is left alone.
local function cstate(tn, q, old, new)
  if (old or '') == '' or old == new then return end
  redis.call('HINCRBY', P .. 'callstats', q .. ':' .. old, '-1')
  if new ~= '' then redis.call('HINCRBY', P .. 'callstats', q .. ':' .. new, '1') end
  redis.call('HSET', P .. 'c:' .. tn, 'cst', new)
end

local function ccount(q, what) redis.call('HINCRBY', P .. 'callstats', q .. ':' .. what, '1') end

local function deadline_of(ch, now)
  if ch == 'voice' then return now + RING_MS end
  return now + OFFER_MS
end

-- offer reserves contact tn for agent id until now + OFFER_MS (a call:
-- RING_MS, the agent's phone rings meanwhile). fresh: a contact just made
-- and in no waiting set, its offer's fields already written (see create),
-- with its fields queue, cst, queued, cnode and call; its offered event
-- says joined = '1': the contact joined its queue with this offer, and no
-- queued event came before it (but with LEGACY_EVENTS).
local function offer(tn, id, now, q, ch, fresh)
  local c = P .. 'c:' .. tn
  agent(id, ch)
  local cq, esc, cst, offers, queued, cnode, call
  if fresh then
    cq, cst, offers, queued, cnode, call = fresh.queue, fresh.cst, 0, fresh.queued, fresh.cnode, fresh.call
  else
    cq, esc, cst, offers, queued, cnode, call = unpack(redis.call('HMGET', c, 'queue', 'esc', 'cst', 'offers',
      'queued', 'cnode', 'call'))
  end
  local deadline = deadline_of(ch, now)
  offers = num(offers) + 1
  if not fresh then
    -- q may be a queue the contact escalated to; it leaves every queue it waits in.
    for _, wq in ipairs(waits_in({queue = cq, esc = esc})) do wrem(wq, ch, tn) end
    redis.call('ZREM', P .. 'wt:' .. cq, tn)
    redis.call('HSET', c, 'state', 'offered', 'agent', id, 'offered', I(now), 'deadline', I(deadline), 'offers',
      I(offers))
  end
  redis.call('ZADD', P .. 'offers', I(deadline), tn)
  redis.call('SADD', P .. 'ao:' .. id, tn)
  aincr(id, 'load:' .. ch, 1)
  aincr(id, 'n_off', 1)
  -- Rotate: a multi-capacity agent goes to the back among equals.
  aset(id, 'idle:' .. ch, now)
  refresh(id, now, ch)
  touch(id)
  if cst == 'waiting' then
    cstate(tn, cq, 'waiting', 'ringing')
    cst = 'ringing'
  end
  contact_event('offered', tn, {state = 'offered', agent = id, offered = now, deadline = deadline, offers = offers,
    queue = cq, ch = ch, queued = queued, cst = cst or '', cnode = cnode, call = call,
    joined = fresh and not LEGACY_EVENTS and '1'}, id, now)
end

-- skipped says whether contact tn must not go to agent id yet: the agent
-- rejected it a moment ago.
local function skipped(tn, id, now)
  local skip, untl = unpack(redis.call('HMGET', P .. 'c:' .. tn, 'skip', 'skip_until'))
  return skip == id and num(untl) > now
end

-- dispatch_queue offers the head contacts of one queue and channel to the
-- longest-idle available agents until one side runs out. A contact an agent
-- has just rejected goes to the next agent, or waits while the one behind it
-- goes to that agent. At most limit offers [1000].
local function dispatch_queue(q, ch, now, limit)
  local n = 0
  while n < (limit or 1000) do
    local heads = redis.call('ZRANGE', P .. 'w:' .. q .. ':' .. ch, 0, 9)
    if #heads == 0 then return n end
    local ids = longest_idle(q, ch)
    if #ids == 0 then return n end
    local tn, id
    for _, c in ipairs(heads) do
      for _, a in ipairs(ids) do
        if not skipped(c, a, now) then tn, id = c, a break end
      end
      if tn then break end
    end
    if not tn then return n end
    if ch == 'voice' and not can_take(agent(id, ch), ch, now) then
      -- A phone registration runs out by itself: the agent leaves the set
      -- here, before the sweep gets to it, and the next one is tried.
      refresh(id, now)
      local h = agent(id)
      redis.call('ZREM', P .. 'avg:' .. ch .. ':' .. (h.grp or ''), id) -- whatever refresh saw: the loop moves on
      if (h['in:' .. ch] or '') ~= '' then aset(id, 'in:' .. ch, '') end
      touch(id)
    else
      offer(tn, id, now, q, ch)
      n = n + 1
    end
  end
  return n
end

-- skill_set is the set of the agent's skills, parsed once per script.
local function skill_set(h)
  local set = h['\0skills']
  if not set then
    set = {}
    for _, q in ipairs(skill_list(h.skills)) do set[q] = true end
    h['\0skills'] = set
  end
  return set
end

-- best_for finds the best waiting contact for agent id among channels chs:
-- highest priority, then oldest (lowest rank), over the queues of the
-- agent's skills that have work (hd:, best head first).
local function best_for(id, h, chs, now)
  local best, best_score, bq, bch
  local mine = skill_set(h)
  for _, ch in ipairs(chs) do
    if can_take(h, ch, now) then
      local hd = redis.call('ZRANGE', P .. 'hd:' .. ch, 0, -1, 'WITHSCORES')
      for i = 1, #hd, 2 do
        local q = hd[i]
        if best_score and tonumber(hd[i + 1]) >= best_score then break end
        if mine[q] then
          local head = redis.call('ZRANGE', P .. 'w:' .. q .. ':' .. ch, 0, 1, 'WITHSCORES')
          if #head == 0 then redis.call('ZREM', P .. 'hd:' .. ch, q) end
          local j = 1
          if #head > 0 and skipped(head[1], id, now) then j = 3 end
          if head[j] and (best_score == nil or tonumber(head[j + 1]) < best_score) then
            best, best_score, bq, bch = head[j], tonumber(head[j + 1]), q, ch
          end
        end
      end
    end
  end
  return best, bq, bch
end

-- dispatch_agent fills an agent's free capacity with the best waiting
-- contacts of its skills: a call first, then the rest by priority and age.
local function dispatch_agent(id, now)
  -- One look at whether any channel has work at all (an idle centre's
  -- usual case) instead of one per channel, before the agent's capacities
  -- are read.
  local h = agent(id)
  if h.presence ~= 'ready' or not connected(h) then return end
  local calling = on_call(h)
  local keys, n = {}, 0
  for i = 1, #CHANNELS do
    if line_free(h, CHANNELS[i], now, calling) then
      n = n + 1
      keys[n] = P .. 'hd:' .. CHANNELS[i]
    end
  end
  if n == 0 or redis.call('EXISTS', unpack(keys, 1, n)) == 0 then return end
  agent_more(h, AGENT_CAPS)
  for _ = 1, 100 do
    h = agent(id)
    local tn, q, ch = best_for(id, h, {'voice'}, now)
    if not tn then tn, q, ch = best_for(id, h, TEXT_CHANNELS, now) end
    if not tn then return end
    offer(tn, id, now, q, ch)
  end
end

-- give_back returns an offered contact to its old place in its queue.
-- A missed offer (rejected or expired) counts against the agent; after
-- MAX_MISSES in a row the agent is set not ready.
local function give_back(tn, reason, now, miss)
  local c = P .. 'c:' .. tn
  local id, q, ch, rank, queued, esc, cst = unpack(redis.call('HMGET', c, 'agent', 'queue', 'ch', 'rank', 'queued',
    'esc', 'cst'))
  agent(id, ch)
  redis.call('ZREM', P .. 'offers', tn)
  redis.call('SREM', P .. 'ao:' .. id, tn)
  aincr(id, 'load:' .. ch, -1)
  aincr(id, 'n_off', -1)
  redis.call('HSET', c, 'state', 'waiting', 'agent', '', 'deadline', '')
  if reason == 'rejected' then redis.call('HSET', c, 'skip', id, 'skip_until', now + OFFER_MS) end
  for _, wq in ipairs(waits_in({queue = q, esc = esc})) do wadd(wq, ch, rank, tn) end
  redis.call('ZADD', P .. 'wt:' .. q, queued, tn)
  cstate(tn, q, cst, 'waiting')
  ev('type', 'rescinded', 'contact', tn, 'agent', id, 'reason', reason, 'queue', q, 'ch', ch,
    'node', agent(id).node or '')
  if miss then
    local m = aincr(id, 'misses', 1)
    if MAX_MISSES > 0 and m >= MAX_MISSES and agent(id).presence == 'ready' then
      aset(id, 'presence', 'not_ready', 'reason', 'missed_offers')
    end
  end
  refresh(id, now)
  touch(id)
  -- A contact transferred to a named agent who missed it goes back to the
  -- agent who transferred it, when that was asked for and they can take it.
  local back = redis.call('HGET', c, 'xback')
  if back and back ~= '' and reason ~= 'node_lost' then
    redis.call('HSET', c, 'xback', '')
    if back ~= id and can_take(agent(back, ch), ch, now) then offer(tn, back, now, q, ch) end
  end
  return id, q, ch
end

-- Queues whose waiting contacts may now match someone.
local pending, pending_order = {}, {} -- per call
local function mark(q, ch)
  local k = q .. '\0' .. ch
  if not pending[k] then
    pending[k] = true
    pending_order[#pending_order + 1] = {q, ch}
  end
end

local function dispatch_marked(now)
  for _, qc in ipairs(pending_order) do dispatch_queue(qc[1], qc[2], now) end
end

-- unseat disconnects an agent's desk: its open offers go back to the queue
-- (without counting as misses) and the agent gets no more offers until a desk
-- connects again. Contacts the agent holds stay with the agent.
local function unseat(id, reason, now)
  local node = agent(id).node or ''
  if node ~= '' then redis.call('SREM', P .. 'na:' .. node, id) end
  for _, tn in ipairs(redis.call('SMEMBERS', P .. 'ao:' .. id)) do
    local _, q, ch = give_back(tn, reason, now, false)
    mark(q, ch)
  end
  aset(id, 'sess', '', 'node', '')
  refresh(id, now)
  touch(id)
end

-- The fields of a contact the end of its call needs.
local CALL_FIELDS = {'state', 'agent', 'queue', 'ch', 'esc', 'cnode', 'queued', 'assigned', 'hold_since', 'cst',
  'talk_ms'}
local function call_fields(tn)
  local v = redis.call('HMGET', P .. 'c:' .. tn, unpack(CALL_FIELDS))
  local f = {}
  for i, k in ipairs(CALL_FIELDS) do f[k] = v[i] or '' end
  return f
end

-- call_over finishes a call's bookkeeping: its node forgets it, it leaves
-- the counters, and a hold still open ends.
local function call_over(tn, f, now)
  local c = P .. 'c:' .. tn
  if f.cnode ~= '' then redis.call('SREM', P .. 'calls:' .. f.cnode, tn) end
  cstate(tn, f.queue, f.cst, '')
  if num(f.hold_since) > 0 then
    redis.call('HINCRBY', c, 'hold_ms', now - num(f.hold_since))
    redis.call('HSET', c, 'hold_since', '')
  end
end

-- talk_over ends an answered call: its talk time is recorded and, if the
-- agent had not ended the contact yet, it now waits for wrap-up.
-- Returns "ended", or "already" when the agent had ended it.
local function talk_over(tn, f, by, now)
  local c = P .. 'c:' .. tn
  call_over(tn, f, now)
  if f.cst ~= '' and num(f.assigned) > 0 then redis.call('HSET', c, 'talk_ms', now - num(f.assigned)) end
  redis.call('HSET', c, 'by', by)
  if f.state ~= 'assigned' then return 'already' end
  local id = f.agent
  redis.call('HSET', c, 'state', 'wrapup', 'ended', now)
  aincr(id, 'n_busy', -1)
  aincr(id, 'n_wrap', 1)
  ev('type', 'ended', 'contact', tn, 'agent', id, 'node', agent(id).node or '', 'reason', by)
  touch(id)
  return 'ended'
end

-- abandon closes a call whose caller left before an answer: an open offer
-- is rescinded (no miss: the agent did nothing wrong), the contact leaves
-- every queue it waits in and closes with outcome abandoned. Returns the
-- agent whose offer was rescinded, or ''.
local function abandon(tn, f, by, now)
  local c = P .. 'c:' .. tn
  local id = ''
  if f.state == 'offered' then
    id = f.agent
    redis.call('ZREM', P .. 'offers', tn)
    redis.call('SREM', P .. 'ao:' .. id, tn)
    aincr(id, 'load:' .. f.ch, -1)
    aincr(id, 'n_off', -1)
    ev('type', 'rescinded', 'contact', tn, 'agent', id, 'reason', 'abandoned', 'queue', f.queue, 'ch', f.ch,
      'node', agent(id).node or '')
    refresh(id, now)
    touch(id)
  end
  for _, wq in ipairs(waits_in(f)) do wrem(wq, f.ch, tn) end
  redis.call('ZREM', P .. 'wt:' .. f.queue, tn)
  call_over(tn, f, now)
  redis.call('HSET', c, 'state', 'closed', 'outcome', 'abandoned', 'agent', '', 'deadline', '', 'ended', now,
    'closed', now, 'wait_ms', now - num(f.queued), 'by', by)
  ccount(f.queue, 'abandoned')
  closed_ev(tn, 'type', 'closed', 'contact', tn, 'agent', '', 'outcome', 'abandoned', 'queue', f.queue,
    'ch', f.ch, 'reason', by)
  return id
end

-- join_queue (defined after esc_track) queues a call answered but not yet
-- queued (state ivr).
local join_queue

-- lose_call handles one call of node whose audio is gone (its node died,
-- or no longer holds it): a caller still waiting or ringing becomes a
-- callback contact at the same place (rank) in its queues, and so does one
-- still in the welcome or the menu (ivr), in its line's queue; a call in
-- talk ends (wrap-up pending). mark_fn notes a queue and channel to match
-- again.
local function lose_call(tn, node, now, mark_fn)
  redis.call('SREM', P .. 'calls:' .. node, tn)
  local st = redis.call('HGET', P .. 'c:' .. tn, 'state')
  if st == 'ivr' then join_queue(tn, nil, nil, now) end
  if st == 'offered' then
    local _, q, ch = give_back(tn, 'node_lost', now, false)
    mark_fn(q, ch)
  end
  local f = call_fields(tn)
  f.cnode = '' -- out of the node's set already
  if f.state == 'waiting' then
    call_over(tn, f, now)
    redis.call('HSET', P .. 'c:' .. tn, 'callback', 1, 'cnode', '')
    ccount(f.queue, 'callbacks')
    ev('type', 'callback', 'contact', tn, 'queue', f.queue, 'ch', f.ch, 'reason', 'node_lost', 'from', node)
    mark_fn(f.queue, f.ch)
  elseif f.state ~= '' then
    talk_over(tn, f, 'node_lost', now)
    redis.call('HSET', P .. 'c:' .. tn, 'cnode', '')
  end
end

-- lose_calls handles the calls of a dead node (lose_call): their audio is
-- gone with it.
local function lose_calls(node, now)
  for _, tn in ipairs(redis.call('SMEMBERS', P .. 'calls:' .. node)) do lose_call(tn, node, now, mark) end
  redis.call('DEL', P .. 'calls:' .. node)
end

-- lose_node unseats every agent whose desk was on node. A dead node's calls
-- are lost with it (lose_calls); a draining node keeps its calls until they
-- end, and stays among the nodes while it has any, so that it is found dead
-- if it dies before they end.
local function lose_node(node, reason, now)
  for _, id in ipairs(redis.call('SMEMBERS', P .. 'na:' .. node)) do
    if agent(id).node == node then unseat(id, reason, now) end
  end
  redis.call('DEL', P .. 'na:' .. node)
  if reason == 'node_lost' then lose_calls(node, now) end
  if reason == 'node_lost' or redis.call('SCARD', P .. 'calls:' .. node) == 0 then
    redis.call('ZREM', P .. 'nodes', node)
  end
  ev('type', 'node_lost', 'node', node, 'reason', reason)
end

-- Escalation is driven by the sorted set esc: a waiting (or offered)
-- contact of a queue with escalation steps is in it, scored by when its next
-- step is due, so the sweep touches each contact once per step. esc_steps
-- lists queue q's steps as {after_ms, dst}, soonest first.
local esc_cache = {} -- per call
local function esc_steps(q)
  local s = esc_cache[q]
  if s then return s end
  s = {}
  if string.find(ESC_SPEC, ';' .. q .. '>', 1, true) then
    for src, after, dst in string.gmatch(ESC_SPEC, ';([^;>]+)>(%d+)>([^;]+)') do
      if src == q then s[#s + 1] = {tonumber(after), dst} end
    end
  end
  esc_cache[q] = s
  return s
end

local function has_esc(esc, dst) return string.find(',' .. (esc or '') .. ',', ',' .. dst .. ',', 1, true) ~= nil end

-- esc_track puts contact tn (of queue q, queued at queued, escalated to the
-- queues in esc) into esc at its next step's time, or out when none is left.
local function esc_track(tn, q, queued, esc)
  local steps = esc_steps(q)
  for _, s in ipairs(steps) do
    if not has_esc(esc, s[2]) then
      redis.call('ZADD', P .. 'esc', num(queued) + s[1], tn)
      return
    end
  end
  if #steps > 0 or (esc or '') ~= '' then redis.call('ZREM', P .. 'esc', tn) end
end

-- A tracking number is the date (YYMMDD, China time), an eight-digit daily
-- sequence and a Luhn check digit: digits only, so it can be read out on the
-- phone and typed on a keypad. The sequence never goes below the floor the
-- node passes (milliseconds since midnight, or above the node's own last
-- number), so a counter that went back with a lost second of Redis writes,
-- or an embedded store that restarted empty, starts again above every number
-- already given; and a number whose contact still exists is never reused.
local function luhn(s)
  local sum, double = 0, true
  local b = {string.byte(s, 1, -1)}
  for i = #b, 1, -1 do
    local d = b[i] - 48
    if double then
      d = d * 2
      if d > 9 then d = d - 9 end
    end
    sum = sum + d
    double = not double
  end
  return tostring((10 - sum % 10) % 10)
end

-- first_free is the agent a contact new in queue q on ch goes to at once:
-- the longest idle who can take it, when no contact waits there (nil:
-- none, or dispatch_queue is to sort it out).
local function first_free(q, ch, now)
  if redis.call('EXISTS', P .. 'w:' .. q .. ':' .. ch) == 1 then return nil end
  local id = longest_idle(q, ch)[1]
  if id and (ch ~= 'voice' or can_take(agent(id, ch), ch, now)) then return id end
  return nil
end

-- create makes a new waiting contact and returns its tracking number.
-- cid: the call that makes it and what it returns (see repeated).
-- held: a call answered but not queued yet (state ivr, in no queue, no
-- event; join_queue queues it). direct: when no contact waits in the queue
-- and an agent is free (the second result), the contact is made offered to
-- that agent and joins no waiting set; the caller must then complete the
-- offer (offer with fresh).
local function create(data, q, ch, prio, rank, now, date, hist, floor, held, direct, cid)
  local seqkey = P .. 'seq:' .. date
  local seq = redis.call('INCR', seqkey)
  floor = tonumber(floor or '0') or 0
  if seq < floor then
    seq = floor
    redis.call('SET', seqkey, string.format('%d', seq), 'EX', '259200')
  elseif seq == 1 then
    redis.call('EXPIRE', seqkey, '259200')
  end
  local tn
  while true do
    local body = date .. string.format('%08d', seq)
    tn = body .. luhn(body)
    if redis.call('EXISTS', P .. 'c:' .. tn) == 0 then break end
    seq = redis.call('INCR', seqkey)
  end
  local to = not held and direct and first_free(q, ch, now)
  local now_s = I(now)
  if to then
    redis.call('HSET', P .. 'c:' .. tn, 'tn', tn, 'd', data, 'state', 'offered', 'queue', q, 'ch', ch, 'prio', prio,
      'rank', rank, 'queued', now_s, 'offers', '1', 'agent', to, 'offered', now_s, 'deadline',
      I(deadline_of(ch, now)), 'hist', hist, 'cid', cid)
  else
    redis.call('HSET', P .. 'c:' .. tn, 'tn', tn, 'd', data, 'state', held and 'ivr' or 'waiting', 'queue', q,
      'ch', ch, 'prio', prio, 'rank', rank, 'queued', now_s, 'offers', '0', 'agent', '', 'hist', hist, 'cid', cid)
  end
  if hist ~= '' then
    -- A citizen's history keeps about the last 100 contacts (readers take
    -- the newest n): it is cut back on one new contact in eight, chosen by
    -- the sequence, not on every one.
    redis.call('ZADD', P .. 'hist:' .. hist, now_s, tn)
    if seq % 8 == 0 then redis.call('ZREMRANGEBYRANK', P .. 'hist:' .. hist, '0', '-101') end
  end
  if held then return tn end
  if not to then
    wadd(q, ch, rank, tn)
    redis.call('ZADD', P .. 'wt:' .. q, now_s, tn)
  end
  if #esc_steps(q) > 0 then esc_track(tn, q, now, '') end
  -- A contact offered as it is made has one event, its offer (joined: see
  -- offer), not a queued one before it; LEGACY_EVENTS writes both, as
  -- versions before it read.
  if not to or LEGACY_EVENTS then ev('type', 'queued', 'contact', tn, 'queue', q, 'ch', ch, 'prio', prio) end
  return tn, to
end

-- join_queue queues call tn, answered but not queued yet (state ivr: the
-- caller heard the welcome and the menu), in queue q at priority prio (nil:
-- the line's queue and priority it was made with). Its place (rank) is its
-- answer time's, since the caller has waited from then; its queued time is
-- now, so waits and service levels count the time in a queue, as before.
join_queue = function(tn, q, prio, now)
  local c = P .. 'c:' .. tn
  local q0, ch, answered, cst, prio0 = unpack(redis.call('HMGET', c, 'queue', 'ch', 'queued', 'cst', 'prio'))
  q, prio = q or q0, tonumber(prio or prio0)
  local rank = string.format('%d', (9 - prio) * 10000000000000 + num(answered))
  redis.call('HSET', c, 'state', 'waiting', 'queue', q, 'prio', prio, 'rank', rank, 'queued', now)
  wadd(q, ch, rank, tn)
  redis.call('ZADD', P .. 'wt:' .. q, now, tn)
  if #esc_steps(q) > 0 then esc_track(tn, q, now, '') end
  if (cst or '') == 'ivr' then
    redis.call('HINCRBY', P .. 'callstats', q0 .. ':ivr', -1)
    redis.call('HINCRBY', P .. 'callstats', q .. ':waiting', 1)
    redis.call('HSET', c, 'cst', 'waiting')
  end
  ev('type', 'queued', 'contact', tn, 'queue', q, 'ch', ch, 'prio', tostring(prio))
end

-- seen answers a retry: the contact an idempotency key made, or nil.
-- A key reused for a different request is a conflict.
local function seen(idem, hash)
  if idem == '' then return nil end
  local prev = redis.call('GET', P .. 'idem:' .. idem)
  if not prev then return nil end
  local sep = string.find(prev, '|', 1, true)
  local tn = string.sub(prev, 1, sep - 1)
  if string.sub(prev, sep + 1) ~= hash then return {tn, 'conflict'} end
  return {tn, 'duplicate'}
end

-- repeated answers a repeat of this very call of a keyed intake (see
-- keyedScripts in scripts.go: go-redis sends a command again when its reply
-- is late, and Redis runs both): retry is seen's answer, and a contact's
-- field cid is "<call id>|<result>" of the last call that made or changed
-- it (create, a message joining it, a call's queueing). nil: not a repeat.
-- A repeat that comes after another call changed the contact (a citizen's
-- next message joined it within go-redis's retries) is told "duplicate",
-- as any retry: it still changes nothing.
local function repeated(retry, cid)
  if retry[2] ~= 'duplicate' then return nil end
  local v = redis.call('HGET', P .. 'c:' .. retry[1], 'cid')
  if not v then return nil end
  local id, res = string.match(v, '^(.+)|(%a+)$')
  if id == cid then return {retry[1], res} end
  return nil
end

-- retried answers an intake's retry with res (seen's answer, or
-- repeated's) after a write: WAIT after the call (Queue.acked) then waits
-- until the replicas have all that came before it, the first intake's
-- contact among it. A keyed intake writes no call:<id>, and a retry that
-- wrote nothing would be acknowledged by a WAIT counting only its
-- connection's older writes (none, on another node's connection).
local function retried(idem, res)
  redis.call('EXPIRE', P .. 'idem:' .. idem, '604800')
  return res
end

local function remember(idem, hash, tn)
  if idem ~= '' then redis.call('SET', P .. 'idem:' .. idem, tn .. '|' .. hash, 'EX', '604800') end
end

-- Liveness is judged by Redis's own clock (TIME), never a node's: a node is
-- dead when Redis has not heard from it for the TTL. And a stall of Redis
-- itself (a pause, a long fork, DEBUG SLEEP) must not count against the
-- nodes: the heartbeat and sweep scripts note the last time Redis served
-- either; when Redis finds it has served neither for longer than gap_ms, it
-- was stalled (or no node could reach it), so every node gets a full TTL of
-- grace to be heard from again before any is declared dead.
local function redis_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function live_clock(gap_ms, ttl_ms)
  local now = redis_ms()
  local last = tonumber(redis.call('GET', P .. 'live:clock'))
  if last and now - last > gap_ms then
    redis.call('SET', P .. 'live:grace', now + ttl_ms)
  end
  redis.call('SET', P .. 'live:clock', now)
  return now
end
