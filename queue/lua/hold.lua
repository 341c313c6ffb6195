-- hold: ARGV tracking_no, on ("1" | "0"), now. Puts an answered call on hold
-- or takes it off; the time on hold adds up in hold_ms.
local tn, on, now = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3])
local c = P .. 'c:' .. tn
local st, cst, since = unpack(redis.call('HMGET', c, 'state', 'cst', 'hold_since'))
if not st then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if cst ~= 'talking' then return redis.error_reply('WRONG_STATE contact ' .. tn .. ' has no call in talk') end
if on and num(since) == 0 then
  redis.call('HSET', c, 'hold_since', now)
elseif not on and num(since) > 0 then
  redis.call('HINCRBY', c, 'hold_ms', now - num(since))
  redis.call('HSET', c, 'hold_since', '')
end
return 1
