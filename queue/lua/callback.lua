-- callback: ARGV tracking_no, phone, now. A waiting caller asked to be
-- called back (pressed the key in the hold loop): the contact keeps its
-- place (priority, age, rank) in its queues as a callback contact, its call
-- is no longer live (the caller hangs up), and an agent who takes it is
-- connected to the citizen by a call the gateway places. An open offer
-- (the agent's phone ringing) is rescinded without a miss. phone is the
-- number to call back. Returns "callback", or "already" when it was one.
local tn, phone, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local c = P .. 'c:' .. tn
local f = call_fields(tn)
if f.state == '' then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if f.ch ~= 'voice' then return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is not a call') end
if redis.call('HGET', c, 'callback') == '1' then
  redis.call('HSET', c, 'cbphone', phone)
  return 'already'
end
if f.state == 'offered' then
  give_back(tn, 'callback', now, false)
  f = call_fields(tn)
end
if f.state ~= 'waiting' or f.cst == '' then
  return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is ' .. f.state .. ': only a waiting caller becomes a callback')
end
call_over(tn, f, now)
redis.call('HSET', c, 'callback', 1, 'cnode', '', 'cbphone', phone, 'cbreq', now)
ccount(f.queue, 'callbacks')
ev('type', 'callback', 'contact', tn, 'queue', f.queue, 'ch', f.ch, 'reason', 'requested')
dispatch_queue(f.queue, f.ch, now)
emit_states(now)
return 'callback'
