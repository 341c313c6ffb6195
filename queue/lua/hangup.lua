-- hangup: ARGV tracking_no, by, now. A leg of call tn hung up (by: caller,
-- agent, media_timeout, …). Before an answer the caller abandoned: an open
-- offer is rescinded and the contact closes with outcome abandoned. After
-- it the talk is over and the contact waits for wrap-up.
-- In the welcome or the menu (ivr: answered, not queued yet), a caller who
-- hangs up was never in a queue: the contact made at the answer is dropped
-- ("gone"), no event, no statistic, as if never made; a call the node ends
-- (shutdown, its audio lost) becomes a callback contact in its line's queue
-- ("callback"), as when the node dies.
-- Returns {"abandoned" | "ended" | "already" | "gone" | "callback", agent}.
local tn, by, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local f = call_fields(tn)
if f.state == '' then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if f.ch ~= 'voice' then return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is not a call') end
local c = P .. 'c:' .. tn
if f.state == 'ivr' and by == 'caller' then
  call_over(tn, f, now)
  local hist = redis.call('HGET', c, 'hist')
  if hist and hist ~= '' then redis.call('ZREM', P .. 'hist:' .. hist, tn) end
  redis.call('DEL', c, P .. 'm:' .. tn)
  return {'gone', ''}
end
if f.state == 'ivr' then
  join_queue(tn, nil, nil, now)
  f = call_fields(tn)
  call_over(tn, f, now)
  redis.call('HSET', c, 'callback', 1, 'cnode', '')
  ccount(f.queue, 'callbacks')
  ev('type', 'callback', 'contact', tn, 'queue', f.queue, 'ch', f.ch, 'reason', by, 'from', f.cnode)
  dispatch_queue(f.queue, f.ch, now)
  emit_states(now)
  return {'callback', ''}
end
local res, id
if f.cst == '' then
  -- No live call: hung up before, or lost with its node (now a callback).
  res, id = 'already', f.agent
  call_over(tn, f, now)
elseif f.state == 'waiting' or f.state == 'offered' then
  res = 'abandoned'
  id = abandon(tn, f, by, now)
  if id ~= '' then dispatch_agent(id, now) end
else
  id = f.agent
  res = talk_over(tn, f, by, now)
end
emit_states(now)
return {res, id}
