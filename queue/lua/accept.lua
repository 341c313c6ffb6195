-- accept: ARGV id, tracking_no, now. Returns "assigned" or "already".
local id, tn, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local c = P .. 'c:' .. tn
local st, ag = unpack(redis.call('HMGET', c, 'state', 'agent'))
if not st then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if ag == id and (st == 'assigned' or st == 'wrapup') then return 'already' end
if st == 'waiting' then return redis.error_reply('WRONG_STATE the offer of ' .. tn .. ' is no longer open') end
if st == 'closed' then return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is closed') end
if ag ~= id then return redis.error_reply('NOT_YOURS contact ' .. tn .. ' is not offered to you') end
redis.call('ZREM', P .. 'offers', tn)
redis.call('SREM', P .. 'ao:' .. id, tn)
redis.call('SADD', P .. 'ah:' .. id, tn)
redis.call('HSET', c, 'state', 'assigned', 'assigned', now, 'deadline', '')
aincr(id, 'n_off', -1)
aincr(id, 'n_busy', 1)
aset(id, 'misses', 0)
touch(id)
contact_event('assigned', hgetall(c), id, now)
emit_states(now)
return 'assigned'
