-- outbox: durable jobs to do once (send an acknowledgement, fetch a file).
-- ARGV op, box, now, then per op:
--   put   payload            → id
--   claim n, lease_ms        → {id, tries, payload, …} of due jobs, leased
--   retry id, due_ms         → 1
--   done  id                 → 1
-- A claimed job not done or retried before its lease ends is due again, so
-- a node that dies mid-job loses nothing.
local op, box, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local due, jobs, tries = P .. 'ob:' .. box, P .. 'obj:' .. box, P .. 'obt:' .. box
if op == 'put' then
  local id = tostring(redis.call('INCR', P .. 'obseq:' .. box))
  redis.call('HSET', jobs, id, ARGV[4])
  redis.call('ZADD', due, now, id)
  return id
elseif op == 'claim' then
  local out = {}
  local ids = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
  for _, id in ipairs(ids) do
    local payload = redis.call('HGET', jobs, id)
    if payload then
      redis.call('ZADD', due, now + tonumber(ARGV[5]), id)
      out[#out + 1] = id
      out[#out + 1] = tostring(redis.call('HINCRBY', tries, id, 1))
      out[#out + 1] = payload
    else
      redis.call('ZREM', due, id)
    end
  end
  return out
elseif op == 'retry' then
  if redis.call('HEXISTS', jobs, ARGV[4]) == 1 then redis.call('ZADD', due, tonumber(ARGV[5]), ARGV[4]) end
  return 1
elseif op == 'done' then
  redis.call('ZREM', due, ARGV[4])
  redis.call('HDEL', jobs, ARGV[4])
  redis.call('HDEL', tries, ARGV[4])
  return 1
end
return redis.error_reply('BAD_OP ' .. op)
