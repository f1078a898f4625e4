
-- adjust: move a key's theoretical arrival time by ARGV[4] nanoseconds
-- (cost times the emission interval), never to before now: a bucket is
-- never fuller than full. ARGV[1], ARGV[2] are now; ARGV[3] the grace.
local now_s, now_ns, grace = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local r = ahead(redis.call('GET', KEYS[1]), now_s, now_ns) + tonumber(ARGV[4])
if r <= 0 then
  redis.call('DEL', KEYS[1])
else
  store(KEYS[1], now_s, now_ns, r, grace)
end
return 1
