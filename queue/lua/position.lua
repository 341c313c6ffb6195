-- position: ARGV tracking_no. Returns the place (1 = next) of a waiting
-- contact among those waiting in its queue on its channel, or 0.
local tn = ARGV[1]
local st, q, ch = unpack(redis.call('HMGET', P .. 'c:' .. tn, 'state', 'queue', 'ch'))
if not st then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if st ~= 'waiting' then return 0 end
local r = redis.call('ZRANK', P .. 'w:' .. q .. ':' .. ch, tn)
if not r then return 0 end
return r + 1
