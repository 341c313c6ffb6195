-- reassign: a supervisor sends a contact held by an agent who went offline
-- back to its queue, at its old place (same rank and queued time, so it keeps
-- its turn and its wait). ARGV tracking_no, now. Returns the agent it left.
-- Refused while the agent is connected (they still work on it) or while its
-- call is still connected (the caller talks to that agent's phone).
local tn, now = ARGV[1], tonumber(ARGV[2])
local c = P .. 'c:' .. tn
local st, id, q, ch, rank, queued, esc, cst = unpack(redis.call('HMGET', c, 'state', 'agent', 'queue', 'ch', 'rank',
  'queued', 'esc', 'cst'))
if not st then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if st ~= 'assigned' and st ~= 'wrapup' then
  return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is ' .. st .. ', not held by an agent')
end
if connected(agent(id)) then
  return redis.error_reply('WRONG_STATE agent ' .. id .. ' is online and still holds contact ' .. tn)
end
if (cst or '') ~= '' then
  return redis.error_reply('WRONG_STATE the call of contact ' .. tn .. ' is still connected')
end
redis.call('SREM', P .. 'ah:' .. id, tn)
if st == 'assigned' then aincr(id, 'n_busy', -1) else aincr(id, 'n_wrap', -1) end
aincr(id, 'load:' .. ch, -1)
redis.call('HSET', c, 'state', 'waiting', 'agent', '', 'deadline', '', 'assigned', '', 'ended', '')
for _, wq in ipairs(waits_in({queue = q, esc = esc})) do wadd(wq, ch, rank, tn) end
redis.call('ZADD', P .. 'wt:' .. q, queued, tn)
esc_track(tn, q, queued, esc)
ev('type', 'rescinded', 'contact', tn, 'agent', id, 'reason', 'reassigned', 'queue', q, 'ch', ch, 'node', '')
refresh(id, now)
touch(id)
mark(q, ch)
dispatch_marked(now)
emit_states(now)
return id
