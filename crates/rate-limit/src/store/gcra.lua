-- GCRA for several (policy, key) counters at once, all or nothing, on the server's clock.
--
-- KEYS[i]     the counter of check i: its theoretical arrival time (TAT), in microseconds
--             since the Unix epoch, as a decimal integer.
-- ARGV[2i-1]  check i's tolerance: how far ahead of now its TAT may run (microseconds).
-- ARGV[2i]    check i's increment: the credit one request consumes (microseconds).
--
-- A request is admitted when, for every check, max(TAT, now) + increment <= now + tolerance,
-- where a stored TAT beyond now + tolerance (stored under a looser policy of the same
-- name, or by a clock that ran ahead) counts as now + tolerance: an empty bucket, as
-- gcra.rs says. That capped value is written back even when the request is refused.
-- Then, and only then, every TAT moves forward and expires when its bucket is full again.
-- Returns {admitted (1 or 0), now, the TAT each check was judged against...}; the caller
-- recomputes each check's remaining quota and waits from those numbers.
--
-- Every value stays below 2^53, where Lua's numbers are exact integers.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local pending = {}
local capped = {}
local judged = {}
local admitted = 1
for i = 1, #KEYS do
  local key = KEYS[i]
  local tolerance = tonumber(ARGV[2 * i - 1])
  local increment = tonumber(ARGV[2 * i])
  local tat = pending[key]
  if tat == nil then
    local stored = redis.call('GET', key)
    if stored then
      tat = tonumber(stored)
      if tat == nil then
        return redis.error_reply('rate-limit: a counter holds no number')
      end
      if tat > now + tolerance then
        tat = now + tolerance
        capped[key] = tat
      end
    else
      tat = 0
    end
  end
  judged[i] = tat
  local base = math.min(math.max(tat, now), now + tolerance)
  if base + increment <= now + tolerance then
    -- A later check of the same counter in this call sees this one charged.
    pending[key] = base + increment
  else
    admitted = 0
    pending[key] = base
  end
end
local writes = capped
if admitted == 1 then
  writes = pending
end
for key, tat in pairs(writes) do
  local ttl_ms = math.max(1, math.ceil((tat - now) / 1000))
  redis.call('SET', key, string.format('%d', tat), 'PX', ttl_ms)
end
local reply = {admitted, now}
for i = 1, #KEYS do
  reply[i + 2] = judged[i]
end
return reply
