-- rate: ARGV tracking_no, score (1–3), now, reply key, token, idem. Stores the
-- citizen's rating of a contact they were asked about (rate_ask), once,
-- within the window. With tracking_no '' the contact is the one the reply
-- key (the citizen's last asked, unrated contact on a text channel) or the
-- token (the rating page's link) names. idem ('' for none; a provider's
-- message id) makes a redelivered answer return the contact it rated the
-- first time. Returns the tracking number rated.
local tn, score, now, reply, token, idem = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6] or ''
if idem ~= '' then
  local prev = redis.call('GET', P .. 'ridem:' .. idem)
  if prev then return prev end
end
if tn == '' and reply ~= '' then tn = redis.call('GET', P .. 'rq:' .. reply) or '' end
if tn == '' and token ~= '' then tn = redis.call('GET', P .. 'rt:' .. token) or '' end
if tn == '' then return redis.error_reply('NOT_FOUND no contact waits for this rating') end
local c = P .. 'c:' .. tn
local st, ch, asked, untl, rated = unpack(redis.call('HMGET', c, 'state', 'ch', 'rate_asked', 'rate_until', 'rating'))
if not st then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if rated and rated ~= '' then return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is rated already') end
if not asked or asked == '' then return redis.error_reply('WRONG_STATE contact ' .. tn .. ' was not asked for a rating') end
if now > num(untl) then return redis.error_reply('WRONG_STATE the rating window of contact ' .. tn .. ' has closed') end
redis.call('HSET', c, 'rating', score, 'rated', now)
if reply ~= '' and redis.call('GET', P .. 'rq:' .. reply) == tn then redis.call('DEL', P .. 'rq:' .. reply) end
if token ~= '' then redis.call('DEL', P .. 'rt:' .. token) end
redis.call('HINCRBY', P .. 'ratings', ch .. ':' .. score, 1)
if idem ~= '' then redis.call('SET', P .. 'ridem:' .. idem, tn, 'EX', 604800) end
return tn
