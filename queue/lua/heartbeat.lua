-- heartbeat: ARGV node, gap_ms, ttl_ms, esc_sha (sha1 of the node's
-- escalation steps, for esc_mixed in sweeplib.lua), library (the name of
-- the node's library of functions, for Tidy: see dropOldLibraries). The
-- node is alive as of Redis's TIME (see live_clock). Returns that time in
-- milliseconds.
local now = live_clock(tonumber(ARGV[2]), tonumber(ARGV[3]))
redis.call('ZADD', P .. 'nodes', now, ARGV[1])
if ARGV[4] then redis.call('HSET', P .. 'esc:specs', ARGV[1], ARGV[4]) end
if ARGV[5] then redis.call('HSET', P .. 'libs', ARGV[1], ARGV[5]) end
return now
