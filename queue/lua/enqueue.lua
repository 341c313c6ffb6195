-- enqueue: ARGV idem, hash, data, queue, channel, priority, rank, now, date, history key,
-- for a call: the node holding its media and its SIP Call-ID ('' otherwise),
-- the tracking-number floor, the alert's kind and text ('' for none), and
-- held ('1': a call just answered, recorded before its welcome and menu,
-- queued by a later enqueue of the same call).
-- Returns {tracking_no, "created" | "duplicate" | "conflict"}.
local idem, hash, data, q, ch = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local prio, rank, now, date, hist = ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9], ARGV[10]
local node, call, held = ARGV[11] or '', ARGV[12] or '', ARGV[16] == '1'
local cid = ARGV[#ARGV] -- this call's id (Queue.once)
local retry = seen(idem, hash)
if retry then
  local again = repeated(retry, cid)
  if again then return retried(idem, again) end
end
if retry and node ~= '' and not held and redis.call('HGET', P .. 'c:' .. retry[1], 'state') == 'ivr' then
  -- The call recorded at its answer joins the queue the caller chose, at
  -- the place its answer time gives it.
  redis.call('HSET', P .. 'c:' .. retry[1], 'd', data, 'cid', cid .. '|created')
  remember(idem, hash, retry[1])
  join_queue(retry[1], q, prio, now)
  dispatch_queue(q, ch, now)
  emit_states(now)
  return {retry[1], 'created'}
end
if retry then return retried(idem, retry) end
local tn, to = create(data, q, ch, prio, rank, now, date, hist, ARGV[13], held, true, cid .. '|created')
remember(idem, hash, tn)
if (ARGV[14] or '') ~= '' then
  ev('type', 'alert', 'contact', tn, 'reason', ARGV[14], 'text', ARGV[15] or '')
end
local cst = ''
if node ~= '' then
  cst = held and 'ivr' or 'waiting'
  redis.call('HSET', P .. 'c:' .. tn, 'cnode', node, 'call', call, 'cst', cst)
  redis.call('SADD', P .. 'calls:' .. node, tn)
  redis.call('HINCRBY', P .. 'callstats', q .. ':' .. cst, 1)
end
if held then return {tn, 'created'} end
if to then
  -- Nothing waited in the queue and an agent was free: the contact went
  -- to no waiting set (create) and is offered now.
  offer(tn, to, now, q, ch, {queue = q, cst = cst, queued = I(now), cnode = node ~= '' and node or false,
    call = node ~= '' and call or false})
else
  dispatch_queue(q, ch, now)
end
emit_states(now)
return {tn, 'created'}
