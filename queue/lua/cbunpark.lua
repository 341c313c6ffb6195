-- cbunpark: ARGV tracking_no, now. A parked callback goes back to its old
-- place (rank) in its queue. Returns "waiting", or "already" when it was
-- not parked.
local tn, now = ARGV[1], tonumber(ARGV[2])
local c = P .. 'c:' .. tn
local st, parked, q, ch, rank, queued, esc = unpack(redis.call('HMGET', c, 'state', 'cbparked', 'queue', 'ch', 'rank',
  'queued', 'esc'))
if not st then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if parked ~= '1' or st ~= 'waiting' then return 'already' end
redis.call('HSET', c, 'cbparked', '')
-- Every queue it waits in: it may have escalated while parked.
for _, wq in ipairs(waits_in({queue = q, esc = esc})) do wadd(wq, ch, rank, tn) end
redis.call('ZADD', P .. 'wt:' .. q, queued, tn)
ev('type', 'queued', 'contact', tn, 'queue', q, 'ch', ch, 'reason', 'callback_retry')
dispatch_queue(q, ch, now)
emit_states(now)
return 'waiting'
