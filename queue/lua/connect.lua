-- connect: a desk connects. ARGV id, name, skills, capacities, node, sess, now, group.
-- skills "q=5,…", capacities "voice=1,sms=3,…", group: the name of the
-- agents with these skills (see refresh).
-- Returns {previous sess, previous node, offers…, '|', held…}.
local id, name, skills, caps, node, sess, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
local grp = ARGV[8]
local h = agent(id)
withdraw(id) -- from the sets of the group it was in; its skills may have changed
local old_sess, old_node = h.sess or '', h.node or ''
if old_node ~= '' then redis.call('SREM', P .. 'na:' .. old_node, id) end

-- ht keeps the agent's hash a hash table (see HASH_TABLE).
aset(id, 'name', name, 'skills', skills, 'grp', grp, 'node', node, 'sess', sess, 'seen', now, 'ht', HASH_TABLE)
for _, q in ipairs(skill_list(skills)) do redis.call('SADD', P .. 'qg:' .. q, grp) end
for _, ch in ipairs(CHANNELS) do aset(id, 'cap:' .. ch, 0) end
for ch, n in string.gmatch(caps, '([^,=]+)=(%d+)') do aset(id, 'cap:' .. ch, n) end
if (h.presence or '') == '' or h.presence == 'logged_out' then
  aset(id, 'presence', 'not_ready', 'reason', 'login', 'misses', 0)
end
-- Longest idle counts from the moment a desk is there to take work.
if old_sess == '' then
  for _, ch in ipairs(CHANNELS) do aset(id, 'idle:' .. ch, now) end
end
redis.call('SADD', P .. 'na:' .. node, id)
redis.call('SADD', P .. 'agents', id)
if old_sess ~= '' then ev('type', 'replaced', 'agent', id, 'sess', old_sess, 'node', old_node) end
refresh(id, now)
touch(id)
dispatch_agent(id, now)
emit_states(now)

local out = {old_sess, old_node}
for _, tn in ipairs(redis.call('SMEMBERS', P .. 'ao:' .. id)) do out[#out + 1] = tn end
out[#out + 1] = '|'
for _, tn in ipairs(redis.call('SMEMBERS', P .. 'ah:' .. id)) do out[#out + 1] = tn end
return out
