-- leave: a node drains. ARGV node, now, budget_us, call (its number, for
-- sweep:slow). Its desks' offers go
-- back to the queue, in chunks (sweeplib.lua): returns 1 when the node is
-- done, 0 when the caller must call again.
local node, now = ARGV[1], tonumber(ARGV[2])
budget_us = tonumber(ARGV[3]) or budget_us
sweep_now = now
phase('unseat')
local done = lose_node_chunk(node, 'drained', now)
phase('dispatch')
local _, left = dispatch_dirty(now)
emit_states(now)
note_slow('leave', now, ARGV[4])
if done and not left then return 1 end
return 0
