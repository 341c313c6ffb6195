-- leave: a node drains. ARGV node, now. Its desks' offers go back to the queue.
local node, now = ARGV[1], tonumber(ARGV[2])
lose_node(node, 'drained', now)
dispatch_marked(now)
emit_states(now)
return 1
