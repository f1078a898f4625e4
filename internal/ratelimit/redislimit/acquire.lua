-- acquire: take a slot under KEYS[1], a sorted set of lease ids scored by
-- when they expire, in Redis's own clock (milliseconds). ARGV[1] is the
-- maximum, ARGV[2] the lease's time to live in milliseconds, ARGV[3] its
-- id. Returns {1 if taken else 0, leases held before}. An id already
-- held (a retried call that ran) is renewed, not counted twice.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key, ttl, id = KEYS[1], tonumber(ARGV[2]), ARGV[3]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
local n = redis.call('ZCARD', key)
if redis.call('ZSCORE', key, id) then
  n = n - 1
elseif n >= tonumber(ARGV[1]) then
  return {0, n}
end
redis.call('ZADD', key, now + ttl, id)
if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
return {1, n}
