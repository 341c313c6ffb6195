-- forget: ARGV cutoff (ms), limit, list ("archived", the default, or
-- "closed"). Contacts of the list closed before cutoff leave Redis: the
-- hash, its messages and its place in the citizen's history. One that is
-- somehow not closed stays (and leaves the list).
local cutoff, limit, list = ARGV[1], tonumber(ARGV[2]), P .. (ARGV[3] or 'archived')
local n = 0
for _, tn in ipairs(redis.call('ZRANGEBYSCORE', list, '-inf', cutoff, 'LIMIT', 0, limit)) do
  local c = P .. 'c:' .. tn
  local st, hist = unpack(redis.call('HMGET', c, 'state', 'hist'))
  if st == 'closed' or not st then
    redis.call('DEL', c, P .. 'm:' .. tn)
    if hist and hist ~= '' then redis.call('ZREM', P .. 'hist:' .. hist, tn) end
    n = n + 1
  end
  redis.call('ZREM', list, tn)
end
return n
