-- lostcalls: ARGV node, now. The calls node held in an earlier run died with
-- that process: handled as a dead node's calls (callbacks, ended talks).
-- Returns how many there were.
local node, now = ARGV[1], tonumber(ARGV[2])
local n = redis.call('SCARD', P .. 'calls:' .. node)
lose_calls(node, now)
dispatch_marked(now)
emit_states(now)
return n
