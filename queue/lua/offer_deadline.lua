-- offer_deadline: ARGV tracking_no, agent, deadline_ms. Moves the deadline
-- of the open offer of tracking_no to agent (a call ringing a browser phone
-- rings for sip.ring_timeout_browser, not sip.ring_timeout). Loaded on its
-- own (queue/deadline.go): it needs only the prefix.
local P = KEYS[1]
local tn, id, deadline = ARGV[1], ARGV[2], tonumber(ARGV[3])
local c = P .. 'c:' .. tn
local st, agent = unpack(redis.call('HMGET', c, 'state', 'agent'))
if not st then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if st ~= 'offered' or agent ~= id then
  return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is not offered to ' .. id)
end
redis.call('HSET', c, 'deadline', deadline)
redis.call('ZADD', P .. 'offers', deadline, tn)
return 1
