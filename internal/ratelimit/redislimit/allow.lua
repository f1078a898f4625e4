
-- allow: GCRA for one or more checks, all or nothing.
-- KEYS[i] is check i's key. ARGV[1], ARGV[2] are now (seconds,
-- nanoseconds); ARGV[3] is the grace in milliseconds; ARGV[2+2i] and
-- ARGV[3+2i] are check i's need (cost times the emission interval) and
-- tolerance (burst times the interval), in nanoseconds.
-- Returns, per check, how far its key's theoretical arrival time was
-- ahead of now before the check (seeing the checks before it in the
-- same call) and 1 if it fits, else 0. Unless every check fits, no key
-- is written.
local now_s, now_ns, grace = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local rel, took, out, all = {}, {}, {}, true
for i, key in ipairs(KEYS) do
  local r = rel[key]
  if r == nil then r = ahead(redis.call('GET', key), now_s, now_ns) end
  local need, tol = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  out[2 * i - 1] = r
  if r + need <= tol then
    out[2 * i] = 1
    if need > 0 then
      r = r + need
      took[key] = true
    end
  else
    out[2 * i] = 0
    all = false
  end
  rel[key] = r
end
if all then
  for _, key in ipairs(KEYS) do
    if took[key] then
      took[key] = nil
      store(key, now_s, now_ns, rel[key], grace)
    end
  end
end
return out
