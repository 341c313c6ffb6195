-- requeue: ARGV id, tracking_no, reason, now. The browser phone of agent id
-- lost its call's audio (reason media_lost: the media session did not come
-- back; desk_lost: the desk did not come back; shutdown: the agent's desk
-- node stops): the call goes back to its queue at its old place (same rank
-- and queued time, so it keeps its turn and its wait), the caller still on
-- the line and hearing hold audio from the node holding the call. The agent
-- lets go of it and is set not ready with the reason (no miss: the agent did
-- nothing wrong). Emits "requeued" (the node holding the call drops the
-- agent's leg, the desk is told), then offers the call at once to the next
-- agent. Returns "requeued".
local id, tn, reason, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local c = P .. 'c:' .. tn
local f = hgetall(c)
if not f.state then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if f.agent ~= id then return redis.error_reply('NOT_YOURS contact ' .. tn .. ' is not held by agent ' .. id) end
if f.state ~= 'assigned' then
  return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is ' .. f.state .. ': only a call in talk goes back')
end
if f.ch ~= 'voice' or (f.cst or '') ~= 'talking' then
  return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is not a call in talk')
end
-- The agent lets go, and takes no more offers until they choose to.
redis.call('SREM', P .. 'ah:' .. id, tn)
aincr(id, 'n_busy', -1)
aincr(id, 'load:' .. f.ch, -1)
aset(id, 'idle:' .. f.ch, now, 'presence', 'not_ready', 'reason', reason)
refresh(id, now)
touch(id)
if num(f.hold_since) > 0 then
  redis.call('HINCRBY', c, 'hold_ms', now - num(f.hold_since))
end
-- Back at its old place.
local n = num(f.requeues) + 1
redis.call('HSET', c, 'state', 'waiting', 'agent', '', 'deadline', '', 'hold_since', '', 'requeues', n,
  'rq_reason', reason)
for _, wq in ipairs(waits_in(f)) do wadd(wq, f.ch, f.rank, tn) end
redis.call('ZADD', P .. 'wt:' .. f.queue, f.queued, tn)
cstate(tn, f.queue, 'talking', 'waiting')
ccount(f.queue, 'requeues')
ev(unpack(with_status({'type', 'requeued', 'contact', tn, 'agent', id, 'node', agent(id).node or '',
  'queue', f.queue, 'ch', f.ch, 'reason', reason}, id, now)))
for _, wq in ipairs(waits_in(f)) do mark(wq, f.ch) end
dispatch_marked(now)
emit_states(now)
return 'requeued'
