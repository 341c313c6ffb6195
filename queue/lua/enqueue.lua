-- enqueue: ARGV idem, hash, data, queue, channel, priority, rank, now, date, history key.
-- Returns {tracking_no, "created" | "duplicate" | "conflict"}.
local idem, hash, data, q, ch = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local prio, rank, now, date, hist = ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9], ARGV[10]

if idem ~= '' then
  local prev = redis.call('GET', P .. 'idem:' .. idem)
  if prev then
    local sep = string.find(prev, '|', 1, true)
    local tn = string.sub(prev, 1, sep - 1)
    if string.sub(prev, sep + 1) ~= hash then return {tn, 'conflict'} end
    return {tn, 'duplicate'}
  end
end

-- A tracking number is the date, a daily sequence and a Luhn check digit:
-- digits only, so it can be read out on the phone and typed on a keypad.
local function luhn(s)
  local sum, double = 0, true
  for i = #s, 1, -1 do
    local d = tonumber(string.sub(s, i, i))
    if double then
      d = d * 2
      if d > 9 then d = d - 9 end
    end
    sum = sum + d
    double = not double
  end
  return tostring((10 - sum % 10) % 10)
end

local seqkey = P .. 'seq:' .. date
local seq = redis.call('INCR', seqkey)
if seq == 1 then redis.call('EXPIRE', seqkey, 259200) end
local body = date .. string.format('%06d', seq)
local tn = body .. luhn(body)

redis.call('HSET', P .. 'c:' .. tn, 'tn', tn, 'd', data, 'state', 'waiting', 'queue', q, 'ch', ch,
  'prio', prio, 'rank', rank, 'queued', now, 'offers', 0, 'agent', '', 'hist', hist)
redis.call('ZADD', P .. 'w:' .. q .. ':' .. ch, rank, tn)
redis.call('ZADD', P .. 'wt:' .. q, now, tn)
if idem ~= '' then redis.call('SET', P .. 'idem:' .. idem, tn .. '|' .. hash, 'EX', 604800) end
if hist ~= '' then
  redis.call('ZADD', P .. 'hist:' .. hist, now, tn)
  redis.call('ZREMRANGEBYRANK', P .. 'hist:' .. hist, 0, -101)
end
ev('type', 'queued', 'contact', tn, 'queue', q, 'ch', ch, 'prio', prio)
dispatch_queue(q, ch, now)
emit_states(now)
return {tn, 'created'}
