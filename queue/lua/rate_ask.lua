-- rate_ask: ARGV tracking_no, now, window_ms, reply key, token. The citizen
-- of contact tn is asked for a rating (回访评价), once per contact: a second
-- ask changes nothing and returns "already". The rating is taken until
-- now + window. reply ("sms:+86…", "wechat:openid"; '' for none) remembers
-- tn as the citizen's contact a bare "1"/"2"/"3" on that channel rates;
-- token ('' for none) is the key of the public rating page's link.
-- Returns "asked" or "already".
local tn, now, win, reply, token = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local c = P .. 'c:' .. tn
local st, asked = unpack(redis.call('HMGET', c, 'state', 'rate_asked'))
if not st then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if asked and asked ~= '' then return 'already' end
redis.call('HSET', c, 'rate_asked', now, 'rate_until', now + win)
if reply ~= '' then redis.call('SET', P .. 'rq:' .. reply, tn, 'PX', win) end
if token ~= '' then redis.call('SET', P .. 'rt:' .. token, tn, 'PX', win) end
return 'asked'
