-- transfer: ARGV id, tracking_no, to ("queue" | "agent"), target (a queue or
-- an agent), note, boost, back ("queue" | "agent"), now, floor (the target
-- queue's own priority: the contact's priority is at least that, then raised).
-- The agent hands a contact it holds on: it waits again, in the target queue
-- (or the contact's own, for a named agent), its priority raised by boost
-- and its age kept, with the agent's note. A named agent is offered it at
-- once; if that agent misses it, it is offered back to the transferring
-- agent (back "agent") or stays in the queue (back "queue"). The
-- transferring agent is free of it at once. A call keeps its caller on the
-- line: the node holding it reads the "transferred" event, drops the agent's
-- leg and plays hold audio until the next agent answers.
local id, tn, to, target, note, boost, back, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]),
  ARGV[7], tonumber(ARGV[8])
local floor = tonumber(ARGV[9]) or 0
local c = P .. 'c:' .. tn
local f = hgetall(c)
if not f.state then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if f.agent ~= id then return redis.error_reply('NOT_YOURS contact ' .. tn .. ' is not yours') end
if f.state ~= 'assigned' then
  return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is ' .. f.state .. ': only a contact in hand can be transferred')
end
if f.ch == 'voice' and (f.cst or '') == '' and f.callback ~= '1' then
  return redis.error_reply('WRONG_STATE the caller of ' .. tn .. ' is no longer on the line')
end
local q = f.queue
if to == 'queue' then q = target end
if to == 'agent' then
  if target == id then return redis.error_reply('WRONG_STATE a contact cannot be transferred to yourself') end
  local h = agent(target, f.ch)
  if not h.skills then return redis.error_reply('NOT_FOUND no agent ' .. target) end
  if not can_take(h, f.ch, now) then
    return redis.error_reply('WRONG_STATE agent ' .. target .. ' cannot take it now (not ready, busy or no phone)')
  end
end
-- The transferring agent lets go.
redis.call('SREM', P .. 'ah:' .. id, tn)
aincr(id, 'n_busy', -1)
aincr(id, 'load:' .. f.ch, -1)
aset(id, 'idle:' .. f.ch, now)
refresh(id, now)
touch(id)
if num(f.hold_since) > 0 then
  redis.call('HINCRBY', c, 'hold_ms', now - num(f.hold_since))
end
-- It waits again: priority raised, age kept.
local prio = math.min(9, math.max(num(f.prio), floor) + (boost or 0))
local rank = string.format('%.0f', (9 - prio) * 1e13 + num(f.queued))
local xback = ''
if to == 'agent' and back == 'agent' then xback = id end
redis.call('HSET', c, 'state', 'waiting', 'agent', '', 'queue', q, 'prio', prio, 'rank', rank, 'esc', '',
  'deadline', '', 'hold_since', '', 'xnote', note, 'xfrom', id, 'xback', xback, 'skip', id,
  'skip_until', now + OFFER_MS, 'xcount', num(f.xcount) + 1)
wadd(q, f.ch, rank, tn)
redis.call('ZADD', P .. 'wt:' .. q, f.queued, tn)
esc_track(tn, q, f.queued, '')
if (f.cst or '') ~= '' then
  cstate(tn, f.queue, f.cst, '')
  redis.call('HINCRBY', P .. 'callstats', q .. ':waiting', 1)
  redis.call('HSET', c, 'cst', 'waiting')
end
ev(unpack(with_status({'type', 'transferred', 'contact', tn, 'agent', id, 'node', agent(id).node or '',
  'queue', q, 'ch', f.ch, 'target', target, 'reason', to}, id, now)))
if to == 'agent' then
  offer(tn, target, now, q, f.ch)
else
  dispatch_queue(q, f.ch, now)
end
dispatch_agent(id, now)
emit_states(now)
return 'transferred'
