-- ivr_resolve: ARGV as enqueue (idem, hash, data, queue, channel, priority,
-- rank, now, date, history key, node, call id, floor). A caller whose
-- question the hot-topic answer settled (当场解答 by the IVR, not by an
-- agent): the contact is made and closed at once, outcome resolved,
-- resolved by "ivr"; it never waits and no agent is offered it. Counted in
-- callstats as <queue>:ivr_resolved. A call recorded at its answer (enqueue
-- held, under the same key) is that contact, resolved. Returns {tracking_no, "created" | "duplicate" | "conflict"}.
local idem, hash, data, q, ch = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local prio, rank, now, date, hist = ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9], ARGV[10]
local call = ARGV[12] or ''
local retry = seen(idem, hash)
local tn
if retry and redis.call('HGET', P .. 'c:' .. retry[1], 'state') == 'ivr' then
  -- The call recorded at its answer (enqueue held) is the one resolved.
  tn = retry[1]
  local f = call_fields(tn)
  call_over(tn, f, now)
  redis.call('HSET', P .. 'c:' .. tn, 'd', data, 'queue', q, 'cnode', '')
  remember(idem, hash, tn)
  ev('type', 'queued', 'contact', tn, 'queue', q, 'ch', ch, 'prio', prio)
elseif retry then
  return retry
else
  tn = create(data, q, ch, prio, rank, now, date, hist, ARGV[13], nil, nil, ARGV[#ARGV] .. '|created')
  remember(idem, hash, tn)
  wrem(q, ch, tn)
  redis.call('ZREM', P .. 'wt:' .. q, tn)
end
redis.call('HSET', P .. 'c:' .. tn, 'state', 'closed', 'outcome', 'resolved', 'rby', 'ivr', 'call', call,
  'ended', now, 'closed', now, 'by', 'caller')
ccount(q, 'ivr_resolved')
closed_ev(tn, 'type', 'closed', 'contact', tn, 'agent', '', 'outcome', 'resolved', 'queue', q, 'ch', ch,
  'reason', 'ivr')
emit_states(now)
return {tn, 'created'}
