-- heartbeat: ARGV node, gap_ms, ttl_ms. The node is alive as of Redis's TIME
-- (see live_clock). Returns that time in milliseconds.
local now = live_clock(tonumber(ARGV[2]), tonumber(ARGV[3]))
redis.call('ZADD', P .. 'nodes', now, ARGV[1])
return now
