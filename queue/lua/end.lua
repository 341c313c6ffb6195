-- end: ARGV id, tracking_no, now. The work is done; the contact waits for wrap-up.
local id, tn, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local c = P .. 'c:' .. tn
local st, ag = unpack(redis.call('HMGET', c, 'state', 'agent'))
if not st then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if ag ~= id then return redis.error_reply('NOT_YOURS contact ' .. tn .. ' is not yours') end
if st == 'wrapup' then return 'already' end
if st ~= 'assigned' then return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is ' .. st) end
redis.call('HSET', c, 'state', 'wrapup', 'ended', now)
aincr(id, 'n_busy', -1)
aincr(id, 'n_wrap', 1)
ev('type', 'ended', 'contact', tn, 'agent', id, 'node', agent(id).node or '', 'reason', 'agent')
touch(id)
emit_states(now)
return 'wrapup'
