-- enqueue: ARGV idem, hash, data, queue, channel, priority, rank, now, date, history key,
-- for a call: the node holding its media and its SIP Call-ID ('' otherwise),
-- the tracking-number floor, the alert's kind and text ('' for none).
-- Returns {tracking_no, "created" | "duplicate" | "conflict"}.
local idem, hash, data, q, ch = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local prio, rank, now, date, hist = ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9], ARGV[10]
local node, call = ARGV[11] or '', ARGV[12] or ''
local retry = seen(idem, hash)
if retry then return retry end
local tn = create(data, q, ch, prio, rank, now, date, hist, ARGV[13])
remember(idem, hash, tn)
if (ARGV[14] or '') ~= '' then
  ev('type', 'alert', 'contact', tn, 'reason', ARGV[14], 'text', ARGV[15] or '')
end
if node ~= '' then
  redis.call('HSET', P .. 'c:' .. tn, 'cnode', node, 'call', call, 'cst', 'waiting')
  redis.call('SADD', P .. 'calls:' .. node, tn)
  redis.call('HINCRBY', P .. 'callstats', q .. ':waiting', 1)
end
dispatch_queue(q, ch, now)
emit_states(now)
return {tn, 'created'}
