-- message: ARGV tracking_no, message (JSON), now. Adds to a contact's conversation
-- (an agent's reply, a note) and tells the agent's desk.
local tn, msg, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local c = P .. 'c:' .. tn
local ag = redis.call('HGET', c, 'agent')
if not ag then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
redis.call('RPUSH', P .. 'm:' .. tn, msg)
redis.call('LTRIM', P .. 'm:' .. tn, -500, -1)
redis.call('HINCRBY', c, 'msgs', 1)
redis.call('HSET', c, 'updated', now)
local node = ''
if ag ~= '' then node = agent(ag).node or '' end
ev('type', 'message', 'contact', tn, 'agent', ag, 'node', node, 'msg', msg)
return 1
