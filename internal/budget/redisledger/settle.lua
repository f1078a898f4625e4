-- settle: end the reservation ARGV[1] on every key in KEYS and add ARGV[2]
-- (micro-USD, 0 for a release) to each key's "spent". A key that is gone
-- (Redis lost it) is not recreated: it is rebuilt from the usage records,
-- which hold this cost, the next time it is used. Returns how many keys
-- held the reservation.
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    n = n + redis.call('HDEL', key, ARGV[1])
    if ARGV[2] ~= '0' then redis.call('HINCRBY', key, 'spent', ARGV[2]) end
  end
end
return n
