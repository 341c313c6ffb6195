-- cbpark: ARGV id, tracking_no, note, now, action ("park" | "quiet" | "fail").
-- A callback the gateway could not complete now (the citizen did not
-- answer, or it is the line's quiet hours): the agent is free of it at once.
-- park: it leaves the queues until CallbackUnpark puts it back at its old
-- place (rank) — the gateway's retry, after an interval. fail: it closes
-- with outcome callback_failed. park and fail count an attempt (cbtries);
-- quiet (the line's quiet hours) parks without counting one.
local id, tn, note, now, action = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local c = P .. 'c:' .. tn
local f = hgetall(c)
if not f.state then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if f.callback ~= '1' then return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is not a callback') end
if f.agent ~= id then return redis.error_reply('NOT_YOURS contact ' .. tn .. ' is not yours') end
if f.state ~= 'assigned' and f.state ~= 'wrapup' then
  return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is ' .. f.state)
end
redis.call('SREM', P .. 'ah:' .. id, tn)
if f.state == 'assigned' then aincr(id, 'n_busy', -1) else aincr(id, 'n_wrap', -1) end
aincr(id, 'load:' .. f.ch, -1)
aset(id, 'idle:' .. f.ch, now)
refresh(id, now)
touch(id)
local tries = num(f.cbtries)
if action ~= 'quiet' then tries = tries + 1 end
if action == 'fail' then
  redis.call('HSET', c, 'state', 'closed', 'outcome', 'callback_failed', 'rtype', f.rtype or 'other',
    'note', note, 'ended', now, 'closed', now, 'cbtries', tries)
  closed_ev(tn, unpack(with_status({'type', 'closed', 'contact', tn, 'agent', id, 'node', agent(id).node or '',
    'outcome', 'callback_failed', 'queue', f.queue, 'ch', f.ch}, id, now)))
else
  redis.call('HSET', c, 'state', 'waiting', 'agent', '', 'deadline', '', 'cbparked', 1, 'xnote', note,
    'cbtries', tries)
  -- It waits, out of the queues (w:) but among the queue's waiting
  -- contacts (wt:), so an escalation admission pass reaches it too, and
  -- in esc at its next step (it left esc if a step fell due while it was
  -- with the agent); it takes its steps parked (see escalate_one).
  redis.call('ZADD', P .. 'wt:' .. f.queue, f.queued, tn)
  esc_track(tn, f.queue, f.queued, f.esc)
  ev(unpack(with_status({'type', 'transferred', 'contact', tn, 'agent', id, 'node', agent(id).node or '',
    'queue', f.queue, 'ch', f.ch, 'reason', 'parked'}, id, now)))
end
dispatch_agent(id, now)
emit_states(now)
return tries
