
-- sweeplib: the sweep's work in bounded chunks, for sweep.lua and leave.lua
-- (after common.lua). Each script call stops taking new work once it has
-- spent its budget (by Redis's TIME, measured from here), and says whether
-- work is left, so the caller calls again: no call holds Redis long,
-- whatever the backlog.
local SWEEP_T0 = redis.call('TIME')
local function spent_us()
  local t = redis.call('TIME')
  return (tonumber(t[1]) - tonumber(SWEEP_T0[1])) * 1000000 + tonumber(t[2]) - tonumber(SWEEP_T0[2])
end

-- New work (returning offers, escalating, unseating) gets the first half of
-- the budget; offering what it freed, the rest (dispatch_dirty).
local budget_us = 300
-- worked: this call has done at least one piece of work. The budget stops a
-- call only after that, so every call makes progress however slow Redis is
-- (a loaded Redis can spend the whole budget on the prologue; without this
-- the sweep would call again and again and never get anything done).
local worked = false
local function over_budget() return worked and spent_us() >= budget_us / 2 end

-- Queues (and channels) to match again live in the set sweep:dirty ("q|ch"),
-- so those a call had no time for are matched by the next one.
local function mark_dirty(q, ch)
  if q and q ~= '' and ch and ch ~= '' then redis.call('SADD', P .. 'sweep:dirty', q .. '|' .. ch) end
end

-- dispatch_dirty matches the dirty queues, a few offers at a time, while
-- the budget lasts, and at least once; it returns how many contacts were
-- offered and whether some queues are left.
local function dispatch_dirty(now)
  for _, qc in ipairs(pending_order) do mark_dirty(qc[1], qc[2]) end
  pending, pending_order = {}, {}
  local n, first = 0, true
  while true do
    if not first and spent_us() >= budget_us then return n, redis.call('SCARD', P .. 'sweep:dirty') > 0 end
    first = false
    local qc = redis.call('SPOP', P .. 'sweep:dirty')
    if not qc then return n, false end
    local sep = string.find(qc, '|', 1, true)
    local k = dispatch_queue(string.sub(qc, 1, sep - 1), string.sub(qc, sep + 1), now, 2)
    n = n + k
    if k >= 2 then redis.call('SADD', P .. 'sweep:dirty', qc) end
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
    do
      local st = redis.call('HGET', P .. 'c:' .. tn, 'state')
      if st == 'ivr' then join_queue(tn, nil, nil, now) end
      if st == 'offered' then
        local _, q, ch = give_back(tn, 'node_lost', now, false)
        mark_dirty(q, ch)
      end
      local f = call_fields(tn)
      if f.state == 'waiting' then
        f.cnode = '' -- already out of the node's set
        call_over(tn, f, now)
        redis.call('HSET', P .. 'c:' .. tn, 'callback', 1, 'cnode', '')
        ccount(f.queue, 'callbacks')
        ev('type', 'callback', 'contact', tn, 'queue', f.queue, 'ch', f.ch, 'reason', 'node_lost', 'from', node)
        mark_dirty(f.queue, f.ch)
      elseif f.state ~= '' then
        f.cnode = ''
        talk_over(tn, f, 'node_lost', now)
        redis.call('HSET', P .. 'c:' .. tn, 'cnode', '')
      end
    end
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
  esc_track(tn, q, queued, esc)
  -- A step whose time has not come leaves it scored in the future; one
  -- somehow still due (a clock behind) must not be read again at once.
  if n == 0 then
    local due = tonumber(redis.call('ZSCORE', P .. 'esc', tn))
    if due and due <= now then redis.call('ZADD', P .. 'esc', now + 1000, tn) end
  end
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
