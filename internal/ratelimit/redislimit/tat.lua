-- Instants are Unix nanoseconds, stored as decimal strings. A Lua number
-- (a double) holds whole numbers exactly only up to 2^53 — 104 days of
-- nanoseconds — so an instant is handled as whole seconds s and
-- nanoseconds ns (0 <= ns < 1e9), each exact, and only differences
-- between instants, which are short, are single numbers.

-- parse reads a stored instant.
local function parse(v)
  local neg = string.sub(v, 1, 1) == '-'
  if neg then v = string.sub(v, 2) end
  local n = #v
  local s, ns = 0, tonumber(v)
  if n > 9 then
    s, ns = tonumber(string.sub(v, 1, n - 9)), tonumber(string.sub(v, n - 8))
  end
  if neg then
    s, ns = -s, -ns
    if ns < 0 then s, ns = s - 1, ns + 1e9 end
  end
  return s, ns
end

-- ahead is how many nanoseconds the instant stored in v is after now
-- (now_s, now_ns), or 0 when v is false (no key) or not after now: a
-- theoretical arrival time in the past is a full bucket.
local function ahead(v, now_s, now_ns)
  if not v then return 0 end
  local s, ns = parse(v)
  return math.max(0, (s - now_s) * 1e9 + (ns - now_ns))
end

-- format writes the instant d >= 0 nanoseconds after (s, ns).
local function format(s, ns, d)
  local x = ns + d
  local c = math.floor(x / 1e9)
  x = x - c * 1e9
  -- x / 1e9 is rounded; correct the carry so that 0 <= x < 1e9.
  if x < 0 then
    c, x = c - 1, x + 1e9
  elseif x >= 1e9 then
    c, x = c + 1, x - 1e9
  end
  s = s + c
  local sign = ''
  if s < 0 then
    -- The instant is -(|s| - 1 seconds and 1e9 - x nanoseconds).
    sign = '-'
    if x > 0 then s, x = -s - 1, 1e9 - x else s = -s end
  end
  if s == 0 then return string.format('%s%d', sign, x) end
  return string.format('%s%d%09d', sign, s, x)
end

-- store keeps the theoretical arrival time d nanoseconds after now in
-- key, which lives until then and grace milliseconds more.
local function store(key, now_s, now_ns, d, grace)
  redis.call('SET', key, format(now_s, now_ns, d), 'PX', math.ceil(d / 1e6) + grace)
end
