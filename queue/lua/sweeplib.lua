-- sweeplib: the sweep's work in bounded chunks, for sweep.lua and leave.lua
-- (after common.lua). Each script call stops taking new work once it has
-- spent its budget (by Redis's TIME, measured from here), and says whether
-- work is left, so the caller calls again: no call holds Redis long,
-- whatever the backlog.
local SWEEP_T0 = redis.call('TIME') -- per call
-- The clock also notes the longest gap between two of its readings, and in
-- which part of the call (sweep_phase): every piece of work between two
-- readings is small, so a long gap is Redis's thread held up (by the
-- machine: a virtual CPU taken away, an interrupt), not the sweep's work.
-- A call that took SLOW_US or more says so in sweep:slow (note_slow).
local SLOW_US = 700
local sweep_last, sweep_gap, sweep_gap_at, sweep_phase = 0, 0, '', 'start' -- per call
local sweep_phases = {} -- per call
local function spent_us()
  local t = redis.call('TIME')
  local us = (tonumber(t[1]) - tonumber(SWEEP_T0[1])) * 1000000 + tonumber(t[2]) - tonumber(SWEEP_T0[2])
  if us - sweep_last > sweep_gap then sweep_gap, sweep_gap_at = us - sweep_last, sweep_phase end
  sweep_last = us
  return us
end

-- phase names the part of the call that follows, for note_slow. It reads
-- no clock (a reading costs a call): a part "ended" at the clock's last
-- reading before the next part began.
local function phase(name)
  sweep_phases[#sweep_phases + 1] = sweep_phase .. '=' .. sweep_last
  sweep_phase = name
end

-- note_slow puts a call that took SLOW_US or more into the capped list
-- sweep:slow (newest first): what it was (script, the node's clock, its
-- number within the sweep), its µs by Redis's TIME from the clock's start,
-- the longest gap between two readings and where, and the clock's last
-- reading in each part.
local function note_slow(script, now, call)
  spent_us()
  phase('end')
  if sweep_last < SLOW_US then return end
  redis.call('LPUSH', P .. 'sweep:slow', table.concat({script, now, call or '', sweep_last, sweep_gap, sweep_gap_at,
    table.concat(sweep_phases, ',')}, ' '))
  redis.call('LTRIM', P .. 'sweep:slow', 0, 255)
end

-- New work (returning offers, escalating, unseating) gets the first half of
-- the budget; offering what it freed, the rest (dispatch_dirty).
local budget_us = 300 -- per call
-- worked: this call has done at least one piece of work. The budget stops a
-- call only after that, so every call makes progress however slow Redis is
-- (a loaded Redis can spend the whole budget on the prologue; without this
-- the sweep would call again and again and never get anything done).
local worked = false -- per call
-- sweep_now: the node's clock (ms) for the agents' events (the caller sets
-- it).
local sweep_now = 0 -- per call

-- flush_states reports the agents whose state changed so far (emit_states),
-- and starts the list of touched agents again: their events are part of
-- the work the budget counts, not left to the end of the call (a call that
-- unseated many desks spent as long again on their events).
local function flush_states()
  emit_states(sweep_now)
  for _, id in ipairs(touched_order) do touched[id] = nil end
  for i = #touched_order, 1, -1 do touched_order[i] = nil end
end

local function over_budget()
  if not worked then return false end
  flush_states()
  return spent_us() >= budget_us / 2
end

-- Queues (and channels) to match again live in the set sweep:dirty ("q|ch"),
-- so those a call had no time for are matched by the next one.
local function mark_dirty(q, ch)
  if q and q ~= '' and ch and ch ~= '' then redis.call('SADD', P .. 'sweep:dirty', q .. '|' .. ch) end
end

-- dispatch_dirty matches the dirty queues, an offer at a time, while the
-- budget lasts, and at least once; it returns how many contacts were
-- offered and whether some queues are left.
local function dispatch_dirty(now)
  for _, qc in ipairs(pending_order) do mark_dirty(qc[1], qc[2]) end
  pending, pending_order = {}, {}
  local n, first = 0, true
  while true do
    if not first then
      flush_states()
      if spent_us() >= budget_us then return n, redis.call('SCARD', P .. 'sweep:dirty') > 0 end
    end
    first = false
    local qc = redis.call('SPOP', P .. 'sweep:dirty')
    if not qc then return n, false end
    local sep = string.find(qc, '|', 1, true)
    local k = dispatch_queue(string.sub(qc, 1, sep - 1), string.sub(qc, sep + 1), now, 1)
    n = n + k
    if k >= 1 then redis.call('SADD', P .. 'sweep:dirty', qc) end
  end
end

-- unseat_chunk unseats the desks of node (reason node_lost or drained)
-- while the budget lasts, and says whether all of them are done.
local function unseat_chunk(node, reason, now)
  local key = P .. 'na:' .. node
  while true do
    if over_budget() then return redis.call('SCARD', key) == 0 end
    -- One desk at a time: unseating one touches every set of its skills.
    local id = redis.call('SPOP', key)
    if not id then return true end
    worked = true
    if agent(id).node == node then
      unseat(id, reason, now)
      for _, qc in ipairs(pending_order) do mark_dirty(qc[1], qc[2]) end
      pending, pending_order = {}, {}
    end
  end
end

-- lose_calls_chunk is lose_calls (common.lua) in chunks: the calls of a
-- dead node, while the budget lasts; true when all are done.
local function lose_calls_chunk(node, now)
  local key = P .. 'calls:' .. node
  while true do
    if over_budget() then return redis.call('SCARD', key) == 0 end
    local tn = redis.call('SPOP', key)
    if not tn then return true end
    worked = true
    lose_call(tn, node, now, mark_dirty)
  end
end

-- lose_node_chunk is lose_node (common.lua) in chunks: true when node is
-- done (then its node_lost event is out). A node being lost is in the set
-- sweep:later until it is done, so the next call goes on with it.
local function lose_node_chunk(node, reason, now)
  if not unseat_chunk(node, reason, now) then return false end
  if reason == 'node_lost' and not lose_calls_chunk(node, now) then return false end
  if reason == 'node_lost' or redis.call('SCARD', P .. 'calls:' .. node) == 0 then
    redis.call('ZREM', P .. 'nodes', node)
  end
  ev('type', 'node_lost', 'node', node, 'reason', reason)
  return true
end

-- esc_place is esc_track (common.lua) for the sweep: contact tn goes into
-- esc at its next step's time, or out of it when no step is left (also when
-- its queue has no steps any more: the steps changed since it was tracked).
-- Returns the time it is due, or nil.
local function esc_place(tn, q, queued, esc)
  for _, s in ipairs(esc_steps(q)) do
    if not has_esc(esc, s[2]) then
      local due = num(queued) + s[1]
      redis.call('ZADD', P .. 'esc', due, tn)
      return due
    end
  end
  redis.call('ZREM', P .. 'esc', tn)
  return nil
end

-- escalate_one takes contact tn, due in esc, through every step now due:
-- it also waits in each step's queue, at its old place (same rank). An
-- offered or parked contact records the step; it joins those queues when it
-- waits again. Returns how many steps it took.
local function escalate_one(tn, now)
  local c = P .. 'c:' .. tn
  local st, q, ch, rank, queued, esc, parked = unpack(redis.call('HMGET', c, 'state', 'queue', 'ch', 'rank',
    'queued', 'esc', 'cbparked'))
  if st ~= 'waiting' and st ~= 'offered' then
    redis.call('ZREM', P .. 'esc', tn)
    return 0
  end
  esc = esc or ''
  local n = 0
  for _, s in ipairs(esc_steps(q)) do
    if num(queued) + s[1] <= now and not has_esc(esc, s[2]) then
      if esc == '' then esc = s[2] else esc = esc .. ',' .. s[2] end
      if st == 'waiting' and parked ~= '1' then
        wadd(s[2], ch, rank, tn)
        mark(s[2], ch) -- into sweep:dirty at the end (dispatch_dirty)
      end
      ev('type', 'escalated', 'contact', tn, 'queue', s[2], 'from', q, 'ch', ch)
      n = n + 1
    end
  end
  if n > 0 then redis.call('HSET', c, 'esc', esc) end
  -- A step whose time has not come leaves it scored in the future; one
  -- somehow still due (a clock behind) must not be read again at once.
  local due = esc_place(tn, q, queued, esc)
  if n == 0 and due and due <= now then redis.call('ZADD', P .. 'esc', now + 1000, tn) end
  return n
end

-- escalate_due escalates the contacts due by now while the budget lasts;
-- it returns how many steps were taken and whether some are left.
local function escalate_due(now)
  local n = 0
  while true do
    if over_budget() then
      return n, #redis.call('ZRANGEBYSCORE', P .. 'esc', '-inf', now, 'LIMIT', 0, 1) > 0
    end
    local due = redis.call('ZRANGEBYSCORE', P .. 'esc', '-inf', now, 'LIMIT', 0, 16)
    if #due == 0 then return n, false end
    for i, tn in ipairs(due) do
      -- the budget is checked before each one: the rest stay due
      if i > 1 and over_budget() then return n, true end
      n = n + escalate_one(tn, now)
      worked = true
    end
  end
end

-- Admission: contacts already waiting when the escalation steps change (a
-- new configuration, nodes restarted) are tracked in esc by the steps they
-- were created with, or not at all. esc:spec holds the steps (ESC_SPEC) the
-- waiting contacts were last tracked by; when the sweeping node's steps
-- differ, a pass walks the contacts of every queue whose steps changed, a
-- chunk per call, and places each in esc by the new steps (esc_place): at
-- its next step's time, or out when none is left. The pass's state is the
-- hash esc:pass (spec, queues, and the cursor: k, the key being walked, 1
-- for the first queue's wt:<queue> and one past the queues for offers; s
-- and m, the score and member last done; n, contacts placed so far), so a
-- pass goes on where it was after a crash or a new sweeper; placing is
-- idempotent. When it is done, esc:spec is the new steps.

-- esc_by_queue splits a spec into each source queue's steps.
local function esc_by_queue(spec)
  local t = {}
  for src, after, dst in string.gmatch(spec or '', ';([^;>]+)>(%d+)>([^;]+)') do
    t[src] = (t[src] or '') .. ';' .. after .. '>' .. dst
  end
  return t
end

-- esc_pass_start begins a pass over the queues whose steps differ between
-- the recorded spec and ESC_SPEC (and those of an unfinished pass by other
-- steps), unless there are none; it returns whether a pass is on.
local function esc_pass_start()
  local old = redis.call('GET', P .. 'esc:spec')
  local prev = redis.call('HGET', P .. 'esc:pass', 'queues')
  if old == ESC_SPEC and not prev then return false end
  local o, n, set, qs = esc_by_queue(old or ''), esc_by_queue(ESC_SPEC), {}, {}
  for q, st in pairs(o) do if n[q] ~= st then set[q] = true end end
  for q, st in pairs(n) do if o[q] ~= st then set[q] = true end end
  for q in string.gmatch(prev or '', '[^,]+') do set[q] = true end
  for q in pairs(set) do qs[#qs + 1] = q end
  redis.call('DEL', P .. 'esc:pass')
  if #qs == 0 then
    redis.call('SET', P .. 'esc:spec', ESC_SPEC)
    return false
  end
  table.sort(qs)
  redis.call('HSET', P .. 'esc:pass', 'spec', ESC_SPEC, 'queues', table.concat(qs, ','), 'k', 1, 's', '', 'm', '',
    'n', 0)
  return true
end

-- zafter lists up to count members of sorted set key after (s, m) in its
-- order (by score, then member), with scores; and the last member looked at
-- with its score (the cursor to go on from), or nil at the end.
local function zafter(key, s, m, count)
  local from = 0
  if m ~= '' then
    local r = redis.call('ZRANK', key, m)
    if not r then
      -- m has left the set: its place is found by putting it back a moment.
      redis.call('ZADD', key, s, m)
      r = redis.call('ZRANK', key, m)
      redis.call('ZREM', key, m)
      r = r - 1
    end
    from = r + 1
  end
  local raw = redis.call('ZRANGE', key, from, from + count - 1, 'WITHSCORES')
  return raw, raw[#raw], raw[#raw - 1]
end

-- esc_admit_chunk goes on with the pass while the budget lasts; it returns
-- how many contacts it placed and whether the pass is not done yet.
local function esc_admit_chunk()
  local spec, qs, k, s, m = unpack(redis.call('HMGET', P .. 'esc:pass', 'spec', 'queues', 'k', 's', 'm'))
  if spec ~= ESC_SPEC then
    -- No pass, or one by other steps (another sweeper's): this one's.
    if spec == false and redis.call('GET', P .. 'esc:spec') == ESC_SPEC then return 0, false end
    if not esc_pass_start() then return 0, false end
    spec, qs, k, s, m = unpack(redis.call('HMGET', P .. 'esc:pass', 'spec', 'queues', 'k', 's', 'm'))
  end
  local list, affected = {}, {}
  for q in string.gmatch(qs, '[^,]+') do
    list[#list + 1] = P .. 'wt:' .. q
    affected[q] = true
  end
  list[#list + 1] = P .. 'offers' -- offered contacts are in no wt:<queue>
  k = tonumber(k)
  local placed = 0
  while k <= #list do
    if over_budget() then break end
    local items, ls, lm = zafter(list[k], s, m, 16)
    if not lm then
      k, s, m = k + 1, '', ''
    else
      worked = true
      for i = 1, #items, 2 do
        local tn = items[i]
        local st, q, queued, esc = unpack(redis.call('HMGET', P .. 'c:' .. tn, 'state', 'queue', 'queued', 'esc'))
        if (st == 'waiting' or st == 'offered') and affected[q] then
          esc_place(tn, q, queued, esc)
          placed = placed + 1
        end
      end
      s, m = ls, lm
    end
  end
  if k > #list then
    redis.call('SET', P .. 'esc:spec', ESC_SPEC)
    redis.call('DEL', P .. 'esc:pass')
    return placed, false
  end
  redis.call('HSET', P .. 'esc:pass', 'k', k, 's', s, 'm', m)
  redis.call('HINCRBY', P .. 'esc:pass', 'n', placed)
  return placed, true
end

-- esc_mixed notes, on a sweep's first call, whether a live node tracks
-- contacts by other steps (esc:specs holds each node's sha1 of its steps,
-- written by its heartbeat; a node too old to write it counts as other): the
-- contacts such a node creates are tracked by its steps. Once no such node
-- is left, esc:spec is forgotten, so a pass places every waiting contact of
-- a queue with steps again.
local function esc_mixed(sha)
  local nodes = redis.call('ZRANGE', P .. 'nodes', 0, -1)
  local mixed = false
  if #nodes > 0 then
    for _, v in ipairs(redis.call('HMGET', P .. 'esc:specs', unpack(nodes))) do
      if v ~= sha then
        mixed = true
        break
      end
    end
  end
  if mixed then
    redis.call('SET', P .. 'esc:mixed', 1)
  elseif redis.call('DEL', P .. 'esc:mixed') == 1 then
    redis.call('DEL', P .. 'esc:spec')
  end
end
