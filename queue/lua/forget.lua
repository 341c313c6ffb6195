-- forget: ARGV cutoff (ms), limit. Archived contacts closed before cutoff
-- leave Redis: the hash, its messages and its place in the citizen's
-- history. One that is somehow not closed stays (and leaves the list).
local cutoff, limit = ARGV[1], tonumber(ARGV[2])
local n = 0
for _, tn in ipairs(redis.call('ZRANGEBYSCORE', P .. 'archived', '-inf', cutoff, 'LIMIT', 0, limit)) do
  local c = P .. 'c:' .. tn
  local st, hist = unpack(redis.call('HMGET', c, 'state', 'hist'))
  if st == 'closed' or not st then
    redis.call('DEL', c, P .. 'm:' .. tn)
    if hist and hist ~= '' then redis.call('ZREM', P .. 'hist:' .. hist, tn) end
    n = n + 1
  end
  redis.call('ZREM', P .. 'archived', tn)
end
return n
