-- sweep: ARGV now, node_ttl_ms, queues ("a,b,c"), escalation steps
-- ("src>after_ms>dst;…"), gap_ms. Returns expired offers, dead nodes, contacts offered, contacts escalated.
-- Expired offers return to their queues, dead nodes' desks are unseated, and
-- every queue is matched again (a safety net for any trigger that was missed).
local now, ttl, queues, steps = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4] or ''
-- Liveness by Redis's clock, with grace after Redis itself stalled (see
-- live_clock); everything else by the node's clock in ARGV[1].
local live_now = live_clock(tonumber(ARGV[5]), ttl)
local grace = tonumber(redis.call('GET', P .. 'live:grace')) or 0
local escalated = 0
for src, after, dst in string.gmatch(steps, '([^;>]+)>(%d+)>([^;]+)') do
  escalated = escalated + escalate(src, now - tonumber(after), dst, now)
end
-- Offers that expire together are one miss: an agent offered several
-- contacts at once (capacity for more than one letter) who does not answer
-- missed one moment, not several. An expiry counts only when its deadline is
-- past the agent's miss_until, which it then sets a second after its own.
local raw = redis.call('ZRANGEBYSCORE', P .. 'offers', '-inf', now, 'WITHSCORES', 'LIMIT', 0, 500)
local expired = {}
for i = 1, #raw, 2 do
  local tn, deadline = raw[i], tonumber(raw[i + 1])
  expired[#expired + 1] = tn
  local id = redis.call('HGET', P .. 'c:' .. tn, 'agent')
  local miss = true
  if id and id ~= '' then
    miss = deadline >= (tonumber(agent(id).miss_until) or 0)
    if miss then aset(id, 'miss_until', deadline + 1000) end
  end
  local _, q, ch = give_back(tn, 'expired', now, miss)
  mark(q, ch)
end
-- Phone registrations that ran out: no more calls for those agents.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'phones', '-inf', now, 'LIMIT', 0, 500)) do
  redis.call('ZREM', P .. 'phones', id)
  refresh(id, now)
  touch(id)
end
local dead = {}
if live_now >= grace then
  dead = redis.call('ZRANGEBYSCORE', P .. 'nodes', '-inf', live_now - ttl)
end
for _, node in ipairs(dead) do lose_node(node, 'node_lost', now) end
dispatch_marked(now)
local offered = 0
for q in string.gmatch(queues, '[^,]+') do
  for _, ch in ipairs(CHANNELS) do offered = offered + dispatch_queue(q, ch, now) end
end
emit_states(now)
return {#expired, #dead, offered, escalated}
