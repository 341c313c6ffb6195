-- phone: ARGV id, until (ms; 0 when unregistered), now. An agent's SIP phone
-- registered (or went away): calls are offered only while it is registered.
local id, untl, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local was = phone_up(agent(id), now)
aset(id, 'phone', untl)
if untl > now then redis.call('ZADD', P .. 'phones', untl, id) else redis.call('ZREM', P .. 'phones', id) end
refresh(id, now)
touch(id)
if not was and untl > now then dispatch_agent(id, now) end
emit_states(now)
return 1
