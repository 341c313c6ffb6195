-- hangup: ARGV tracking_no, by, now. A leg of call tn hung up (by: caller,
-- agent, media_timeout, …). Before an answer the caller abandoned: an open
-- offer is rescinded and the contact closes with outcome abandoned. After
-- it the talk is over and the contact waits for wrap-up.
-- Returns {"abandoned" | "ended" | "already", agent}.
local tn, by, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local f = call_fields(tn)
if f.state == '' then return redis.error_reply('NOT_FOUND no contact ' .. tn) end
if f.ch ~= 'voice' then return redis.error_reply('WRONG_STATE contact ' .. tn .. ' is not a call') end
local res, id
if f.cst == '' then
  -- No live call: hung up before, or lost with its node (now a callback).
  res, id = 'already', f.agent
  call_over(tn, f, now)
elseif f.state == 'waiting' or f.state == 'offered' then
  res = 'abandoned'
  id = abandon(tn, f, by, now)
  if id ~= '' then dispatch_agent(id, now) end
else
  id = f.agent
  res = talk_over(tn, f, by, now)
end
emit_states(now)
return {res, id}
