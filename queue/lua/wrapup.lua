-- wrapup: ARGV id, tracking_no, request type, outcome, note, now. Closes the contact.
local id, tn, rtype, outcome, note, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local c = P .. 'c:' .. tn
local st, ag, ch, ended, q, okey = unpack(redis.call('HMGET', c, 'state', 'agent', 'ch', 'ended', 'queue', 'okey'))
if not st then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if ag ~= id then return redis.error_reply('NOT_YOURS contact ' .. tn .. ' is not yours') end
if st == 'closed' then return 'already' end
if st ~= 'assigned' and st ~= 'wrapup' then return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is ' .. st) end
if not ended or ended == '' then ended = I(now) end
redis.call('HSET', c, 'state', 'closed', 'ended', ended, 'closed', I(now), 'rtype', rtype, 'outcome', outcome, 'note', note)
redis.call('SREM', P .. 'ah:' .. id, tn)
-- The conversation ends: the citizen's next message starts a new contact.
if okey and okey ~= '' and redis.call('GET', okey) == tn then redis.call('DEL', okey) end
agent(id, ch)
if st == 'assigned' then aincr(id, 'n_busy', -1) else aincr(id, 'n_wrap', -1) end
aincr(id, 'load:' .. ch, -1)
aset(id, 'idle:' .. ch, now)
refresh(id, now, ch)
touch(id)
closed_ev(tn, unpack(with_status({'type', 'closed', 'contact', tn, 'agent', id, 'node', agent(id).node or '',
  'outcome', outcome, 'rtype', rtype, 'queue', q, 'ch', ch}, id, now)))
dispatch_agent(id, now)
emit_states(now)
return 'closed'
