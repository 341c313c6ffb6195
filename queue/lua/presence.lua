-- presence: ARGV id, sess, presence ("ready" | "not_ready"), reason, now.
local id, sess, presence, reason, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local a = P .. 'a:' .. id
local h = hgetall(a)
if (h.sess or '') ~= sess or sess == '' then return redis.error_reply('STALE this desk is no longer connected') end
if presence == 'ready' then
  if h.presence ~= 'ready' then
    redis.call('HSET', a, 'presence', 'ready', 'reason', '', 'misses', 0)
    for _, ch in ipairs(CHANNELS) do redis.call('HSET', a, 'idle:' .. ch, now) end
  end
else
  redis.call('HSET', a, 'presence', 'not_ready', 'reason', reason)
end
refresh(id)
touch(id)
if presence == 'ready' then dispatch_agent(id, now) end
emit_states(now)
return 1
