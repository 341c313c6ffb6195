-- receive: a citizen's message on a conversational channel. ARGV as enqueue,
-- then the open-conversation key, the message (JSON), the tracking-number
-- floor, the alert's kind and text ('' for none: raised with a new contact
-- or a joining message, never for a duplicate). While the citizen
-- has an open contact on this channel and line, the message joins it;
-- otherwise it starts a new contact.
-- Returns {tracking_no, "created" | "joined" | "duplicate" | "conflict"}.
local idem, hash, data, q, ch = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local prio, rank, now, date, hist = ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9], ARGV[10]
local open, msg = ARGV[11], ARGV[12]
local cid = ARGV[#ARGV] -- this call's id (Queue.once)
local retry = seen(idem, hash)
if retry then return retried(idem, repeated(retry, cid) or retry) end
local okey = P .. 'open:' .. open
local tn = redis.call('GET', okey)
if tn then
  local c = P .. 'c:' .. tn
  local st, ag, cprio, queued, cq, ch0, esc = unpack(redis.call('HMGET', c, 'state', 'agent', 'prio', 'queued', 'queue',
    'ch', 'esc'))
  if st and st ~= 'closed' then
    -- A more urgent message (emergency words) raises the whole contact; if
    -- it still waits, it moves up to its new place.
    if tonumber(prio) > num(cprio) then
      local newrank = string.format('%d', (9 - tonumber(prio)) * 1e13 + num(queued))
      redis.call('HSET', c, 'prio', prio, 'rank', newrank)
      if st == 'waiting' then
        for _, wq in ipairs(waits_in({queue = cq, esc = esc})) do
          wadd(wq, ch0, newrank, tn)
        end
      end
    end
    redis.call('RPUSH', P .. 'm:' .. tn, msg)
    redis.call('LTRIM', P .. 'm:' .. tn, -500, -1)
    redis.call('HINCRBY', c, 'msgs', 1)
    redis.call('HSET', c, 'updated', now, 'cid', cid .. '|joined')
    remember(idem, hash, tn)
    local node = ''
    if ag and ag ~= '' then node = agent(ag).node or '' end
    ev('type', 'message', 'contact', tn, 'agent', ag or '', 'node', node, 'msg', msg)
    if ARGV[14] ~= '' then ev('type', 'alert', 'contact', tn, 'reason', ARGV[14], 'text', ARGV[15]) end
    return {tn, 'joined'}
  end
end
tn = create(data, q, ch, prio, rank, now, date, hist, ARGV[13], nil, nil, cid .. '|created')
redis.call('HSET', P .. 'c:' .. tn, 'okey', okey)
redis.call('SET', okey, tn, 'EX', 2592000)
remember(idem, hash, tn)
if ARGV[14] ~= '' then ev('type', 'alert', 'contact', tn, 'reason', ARGV[14], 'text', ARGV[15]) end
dispatch_queue(q, ch, now)
emit_states(now)
return {tn, 'created'}
