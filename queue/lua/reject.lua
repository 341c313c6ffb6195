-- reject: ARGV id, tracking_no, now. The contact returns to its old place.
local id, tn, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local st, ag = unpack(redis.call('HMGET', P .. 'c:' .. tn, 'state', 'agent'))
if not st then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if st ~= 'offered' then return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is not on offer') end
if ag ~= id then return redis.error_reply('NOT_YOURS contact ' .. tn .. ' is not offered to you') end
local _, q, ch = give_back(tn, 'rejected', now, true)
dispatch_queue(q, ch, now)
emit_states(now)
return 'rejected'
