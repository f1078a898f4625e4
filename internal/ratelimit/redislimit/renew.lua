-- renew: extend the lease ARGV[2] under KEYS[1] to ARGV[1] milliseconds
-- from now (Redis's clock). Returns 1, or 0 when the lease is gone —
-- released, or expired (it is not brought back: its slot may be taken).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key, ttl, id = KEYS[1], tonumber(ARGV[1]), ARGV[2]
local exp = redis.call('ZSCORE', key, id)
if not exp then return 0 end
if tonumber(exp) <= now then
  redis.call('ZREM', key, id)
  return 0
end
redis.call('ZADD', key, now + ttl, id)
if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
return 1
