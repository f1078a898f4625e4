-- reserve: hold ARGV[3] (micro-USD) under the id ARGV[2] against every cap
-- key in KEYS, all or none. Each key is a hash: "spent", the settled
-- spend, and one field per open reservation, id → "amount:expiry" (expiry
-- in Unix milliseconds on the caller's clock). ARGV[1] is now (ms), ARGV[4]
-- the lease's expiry; then three values per key: its cap's limit, the
-- key's time to live in ms (used when it is created) and the spend to
-- create it with, "-1" when not known.
--
-- Returns {1, i...} when keys i are missing and their spend is not known
-- (nothing changed but the keys created); {2, i, spent, reserved} when
-- key i's cap cannot take the amount (nothing held); else {0, spent_1,
-- reserved_1, ...}, the keys' state before the reservation. An empty id
-- only reads: no check, nothing held.
local now, id, amount, expiry = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4]
local missing = {}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 0 then
    local init = ARGV[3 * i + 4]
    if init == '-1' then
      missing[#missing + 1] = i
    else
      -- Created atomically here: a replica that loaded the same spend
      -- later finds the key and its value is ignored.
      redis.call('HSET', key, 'spent', init)
      redis.call('PEXPIRE', key, ARGV[3 * i + 3])
    end
  end
end
if #missing > 0 then
  return {1, unpack(missing)}
end
-- A retried call that ran already (its id is held): done, not counted
-- twice.
if id ~= '' and redis.call('HEXISTS', KEYS[1], id) == 1 then
  return {0}
end
-- Each key's state, once (a key may appear twice: two caps on one count),
-- dropping the reservations whose lease is over.
local state = {}
local out = {0}
for i, key in ipairs(KEYS) do
  local st = state[key]
  if not st then
    st = {spent = 0, reserved = 0}
    local h = redis.call('HGETALL', key)
    local gone = {}
    for j = 1, #h, 2 do
      local f, v = h[j], h[j + 1]
      if f == 'spent' then
        st.spent = tonumber(v)
      else
        local a, e = string.match(v, '^(%d+):(%d+)$')
        if a == nil or tonumber(e) <= now then
          gone[#gone + 1] = f
        else
          st.reserved = st.reserved + tonumber(a)
        end
      end
    end
    if #gone > 0 then redis.call('HDEL', key, unpack(gone)) end
    state[key] = st
  end
  if id ~= '' and st.spent + st.reserved + amount > tonumber(ARGV[3 * i + 2]) then
    return {2, i, st.spent, st.reserved}
  end
  out[#out + 1] = st.spent
  out[#out + 1] = st.reserved
end
if id ~= '' then
  local v = ARGV[3] .. ':' .. expiry
  for key in pairs(state) do
    redis.call('HSET', key, id, v)
  end
end
return out
