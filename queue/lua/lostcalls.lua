-- lostcalls: ARGV node, now[, tn]. The calls node held in an earlier run
-- died with that process: handled as a dead node's calls (callbacks, ended
-- talks). Returns how many there were. With tn, only that call, and only
-- while node still holds it in Redis (the node found it no longer holds
-- the call itself): returns 1 if it was handled, 0 if not held.
local node, now, one = ARGV[1], tonumber(ARGV[2]), ARGV[3] or ''
if one ~= '' then
  if redis.call('SISMEMBER', P .. 'calls:' .. node, one) == 0 then return 0 end
  lose_call(one, node, now, mark)
  dispatch_marked(now)
  emit_states(now)
  return 1
end
local n = redis.call('SCARD', P .. 'calls:' .. node)
lose_calls(node, now)
dispatch_marked(now)
emit_states(now)
return n
