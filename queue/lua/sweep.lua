-- sweep: ARGV now, node_ttl_ms, queues ("a,b,c"), gap_ms, node, lease_ms,
-- budget_us, full ("1": a sweep's first call; match every queue with work
-- again, a safety net for any trigger that was missed), esc_sha (sha1 of
-- ESC_SPEC), call (the call's number within the sweep, for sweep:slow).
-- Returns {expired offers, dead nodes, contacts offered, steps escalated,
-- more (1: work is left, call again), skipped (1: another node holds the
-- lease), contacts placed in esc by an admission pass}.
-- One node sweeps a shard at a time: the one holding the lease
-- sweep:lease ("node|until_ms", by Redis's clock), renewed by each call.
-- Each call works in bounded chunks (sweeplib.lua) and stops taking new
-- work after budget_us; what is left stays where it is (due in esc, expired
-- in offers, a node being lost in sweep:later, a queue to match again in
-- sweep:dirty) for the next call.
local now, ttl, queues = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local me, lease_ms, full = ARGV[5], tonumber(ARGV[6]), ARGV[8] == '1'
budget_us = tonumber(ARGV[7]) or budget_us
sweep_now = now
-- Liveness by Redis's clock, with grace after Redis itself stalled (see
-- live_clock); everything else by the node's clock in ARGV[1].
local live_now = live_clock(tonumber(ARGV[4]), ttl)
local lease = redis.call('GET', P .. 'sweep:lease')
if lease then
  local sep = string.find(lease, '|', 1, true)
  if sep and string.sub(lease, 1, sep - 1) ~= me and tonumber(string.sub(lease, sep + 1)) > live_now then
    return {0, 0, 0, 0, 0, 1, 0}
  end
end
redis.call('SET', P .. 'sweep:lease', me .. '|' .. (live_now + lease_ms), 'PX', lease_ms)
local grace = tonumber(redis.call('GET', P .. 'live:grace')) or 0
local more = false
phase('dead')

-- Dead nodes: each goes into sweep:later (and out of the nodes) when found,
-- and its desks and calls are handled in chunks until it is done.
local dead = 0
if live_now >= grace then
  for _, node in ipairs(redis.call('ZRANGEBYSCORE', P .. 'nodes', '-inf', live_now - ttl, 'LIMIT', 0, 100)) do
    redis.call('ZREM', P .. 'nodes', node)
    redis.call('SADD', P .. 'sweep:later', node)
    dead = dead + 1
  end
end
for _, node in ipairs(redis.call('SMEMBERS', P .. 'sweep:later')) do
  if over_budget() then more = true break end
  if lose_node_chunk(node, 'node_lost', now) then
    redis.call('SREM', P .. 'sweep:later', node)
  else
    more = true
  end
end

phase('expired')
-- Offers that expire together are one miss: an agent offered several
-- contacts at once (capacity for more than one letter) who does not answer
-- missed one moment, not several. An expiry counts only when its deadline is
-- past the agent's miss_until, which it then sets a second after its own.
local expired = 0
while not more do
  if over_budget() then more = redis.call('ZCOUNT', P .. 'offers', '-inf', now) > 0 break end
  local raw = redis.call('ZRANGEBYSCORE', P .. 'offers', '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)
  if #raw == 0 then break end
  for i = 1, #raw, 2 do
    local tn, deadline = raw[i], tonumber(raw[i + 1])
    expired = expired + 1
    local id = redis.call('HGET', P .. 'c:' .. tn, 'agent')
    local miss = true
    if id and id ~= '' then
      miss = deadline >= (tonumber(agent(id).miss_until) or 0)
      if miss then aset(id, 'miss_until', deadline + 1000) end
    end
    local _, q, ch = give_back(tn, 'expired', now, miss)
    mark_dirty(q, ch)
    worked = true
  end
end

-- Escalation steps due.
phase('esc')
local escalated = 0
if not more then
  local left
  escalated, left = escalate_due(now)
  more = more or left
end

-- Phone registrations that ran out: no more calls for those agents.
phase('phones')
while not more do
  local ids = redis.call('ZRANGEBYSCORE', P .. 'phones', '-inf', now, 'LIMIT', 0, 1)
  if #ids == 0 then break end
  if over_budget() then more = true break end
  redis.call('ZREM', P .. 'phones', ids[1])
  worked = true
  refresh(ids[1], now)
  touch(ids[1])
end

-- Contacts waiting since before the escalation steps changed (sweeplib.lua).
phase('admit')
if full then esc_mixed(ARGV[9]) end
local admitted = 0
if not more then
  local left
  admitted, left = esc_admit_chunk()
  -- Those it placed already due are escalated by the next call.
  more = more or left or admitted > 0
end

-- The heads of the queues with work (hd:, common.lua) are kept by every
-- change of a queue; they are built whole once, after an upgrade from a
-- version without them (hd:built is then missing).
if full and redis.call('EXISTS', P .. 'hd:built') == 0 then
  for q in string.gmatch(queues, '[^,]+') do
    for _, ch in ipairs(CHANNELS) do whead(q, ch) end
  end
  redis.call('SET', P .. 'hd:built', 1)
end
-- The safety net: every queue with work (in hd:) is matched again, by
-- dispatch_dirty within the budget (this call and the next ones).
if full then
  phase('full')
  for _, ch in ipairs(CHANNELS) do
    local qs = redis.call('ZRANGE', P .. 'hd:' .. ch, 0, -1)
    for i, q in ipairs(qs) do qs[i] = q .. '|' .. ch end
    if #qs > 0 then redis.call('SADD', P .. 'sweep:dirty', unpack(qs)) end
  end
end
phase('dispatch')
local offered, left = dispatch_dirty(now)
emit_states(now)
note_slow('sweep', now, ARGV[10])
if more or left then return {expired, dead, offered, escalated, 1, 0, admitted} end
return {expired, dead, offered, escalated, 0, 0, admitted}
