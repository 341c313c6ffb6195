-- accept: ARGV id, tracking_no, now. Returns "assigned" or "already".
local id, tn, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local c = P .. 'c:' .. tn
local st, ag, cst, q, queued, rq, cnode, call = unpack(redis.call('HMGET', c, 'state', 'agent', 'cst', 'queue',
  'queued', 'requeues', 'cnode', 'call'))
if not st then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if ag == id and (st == 'assigned' or st == 'wrapup') then return 'already' end
if st == 'waiting' then return redis.error_reply('WRONG_STATE the offer of ' .. tn .. ' is no longer open') end
if st == 'closed' then return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is closed') end
if ag ~= id then return redis.error_reply('NOT_YOURS contact ' .. tn .. ' is not offered to you') end
redis.call('ZREM', P .. 'offers', tn)
-- The offer becomes a held contact: one SMOVE (an offer missing from ao:,
-- which should not happen, is still held).
if redis.call('SMOVE', P .. 'ao:' .. id, P .. 'ah:' .. id, tn) == 0 then redis.call('SADD', P .. 'ah:' .. id, tn) end
redis.call('HSET', c, 'state', 'assigned', 'assigned', I(now), 'deadline', '')
local ncst = cst or ''
if cst == 'ringing' then ncst = 'talking' end
if cst == 'ringing' and num(rq) > 0 then
  cstate(tn, q, cst, 'talking') -- a call requeued (requeue.lua) was answered and counted once already
elseif cst == 'ringing' then
  -- The agent's phone answered: the caller's wait is over. Recent waits
  -- per queue give the expected wait callers are told.
  local wait = now - num(queued)
  redis.call('HSET', c, 'wait_ms', wait)
  redis.call('LPUSH', P .. 'aw:' .. q, wait)
  redis.call('LTRIM', P .. 'aw:' .. q, 0, 49)
  cstate(tn, q, cst, 'talking')
  ccount(q, 'answered')
end
aincr(id, 'n_off', -1)
aincr(id, 'n_busy', 1)
aset(id, 'misses', '0')
touch(id)
contact_event('assigned', tn, {state = 'assigned', agent = id, assigned = now, deadline = '', queue = q, queued = queued,
  cst = ncst, cnode = cnode, call = call}, id, now)
emit_states(now)
return 'assigned'
