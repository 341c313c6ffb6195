-- disconnect: a desk goes away. ARGV id, sess, now, logout ("1" also logs the agent out).
-- Only the desk that holds the session may do this; a stale one changes nothing.
local id, sess, now, logout = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'
if (agent(id).sess or '') ~= sess or sess == '' then return 0 end
if logout then
  aset(id, 'presence', 'logged_out', 'reason', '')
  unseat(id, 'logged_out', now)
else
  unseat(id, 'disconnected', now)
end
dispatch_marked(now)
emit_states(now)
return 1
