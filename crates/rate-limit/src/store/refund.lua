-- Gives back one request's credit to a counter, on the server's clock.
--
-- KEYS[1]  the counter: its theoretical arrival time (TAT), microseconds since the epoch.
-- ARGV[1]  the increment to give back (microseconds).
--
-- The TAT moves back by the increment; a counter whose bucket is then full is deleted,
-- and one that does not exist (a full bucket) is left alone. Returns 1 when a counter
-- changed, 0 otherwise.
local stored = redis.call('GET', KEYS[1])
if not stored then
  return 0
end
local tat = tonumber(stored)
if tat == nil then
  return redis.error_reply('rate-limit: a counter holds no number')
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local refunded = tat - tonumber(ARGV[1])
if refunded <= now then
  redis.call('DEL', KEYS[1])
else
  local ttl_ms = math.max(1, math.ceil((refunded - now) / 1000))
  redis.call('SET', KEYS[1], string.format('%d', refunded), 'PX', ttl_ms)
end
return 1
