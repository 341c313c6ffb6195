-- presence: ARGV id, sess, presence ("ready" | "not_ready"), reason, now.
local id, sess, presence, reason, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local h = agent(id)
if (h.sess or '') ~= sess or sess == '' then return redis.error_reply('STALE this desk is no longer connected') end
if presence == 'ready' then
  if h.presence ~= 'ready' then
    aset(id, 'presence', 'ready', 'reason', '', 'misses', 0)
    for _, ch in ipairs(CHANNELS) do aset(id, 'idle:' .. ch, now) end
  end
else
  aset(id, 'presence', 'not_ready', 'reason', reason)
end
refresh(id, now)
touch(id)
if presence == 'ready' then dispatch_agent(id, now) end
emit_states(now)
return 1
