/**
 * Index upkeep from footprints (see redis-keys.ts): `unindex(fp)` removes a record's entries,
 * `index(fp)` adds them, `reindex(old, new)` (old may be nil) applies only the entries that
 * changed. Needs `P` (the key prefix) in scope.
 */
export const INDEX_LUA = `
-- A versioned hash ("h" footprint) changed: a number it never had, from one counter that never
-- goes back, so a reader's noted version cannot come round again.
local function bump(key)
  redis.call('HSET', key, 'v', redis.call('INCR', P .. 'deps-seq'))
end

-- Per bucket descriptor, its grouped tasks that are not a group's head (the bucket's size is its ZCARD and this).
local function tails(bd, by)
  if redis.call('HINCRBY', P .. 'gtails', bd, by) == 0 then redis.call('HDEL', P .. 'gtails', bd) end
end

-- A concurrency group's head stands in its bucket as "<id>\\0<group descriptor>" ("g" footprint):
-- after a change of the group's set, the bucket holds its head as it is now.
local function regroup(e)
  local group, bucket, set, bd, gd = e[2], e[5], e[6], e[7], e[8]
  local heads = P .. 'gheads'
  local was = redis.call('HGET', heads, group)
  local top = redis.call('ZRANGE', group, 0, 0, 'WITHSCORES')
  local now = top[1] and (top[1] .. '\\0' .. gd) or false
  if was == now then return end
  if was then
    redis.call('ZREM', bucket, was)
    tails(bd, 1)
    if redis.call('ZCARD', bucket) == 0 then redis.call('SREM', set, bd) end
  end
  if now then
    redis.call('ZADD', bucket, top[2], now)
    tails(bd, -1)
    redis.call('SADD', set, bd)
    redis.call('HSET', heads, group, now)
  else
    redis.call('HDEL', heads, group)
  end
end

local function unindex(fp)
  for _, e in ipairs(fp) do
    if e[1] == 'z' then
      redis.call('ZREM', e[2], e[4])
      if e[5] and redis.call('ZCARD', e[2]) == 0 then redis.call('SREM', e[5], e[6]) end
    elseif e[1] == 's' then
      redis.call('SREM', e[2], e[3])
    elseif e[1] == 'h' then
      if redis.call('HDEL', e[2], e[3]) == 1 then
        if redis.call('HLEN', e[2]) <= 1 then
          redis.call('DEL', e[2])
          if e[4] then redis.call('SREM', e[4], e[5]) end
        else
          bump(e[2])
        end
      end
    elseif e[1] == 'e' then
      redis.call('SREM', e[2], e[3])
    elseif e[1] == 'g' then
      if redis.call('ZREM', e[2], e[4]) == 1 then
        tails(e[7], -1)
        regroup(e)
      end
    elseif redis.call('GET', e[2]) == e[3] then
      redis.call('DEL', e[2])
    end
  end
end

local function index(fp)
  for _, e in ipairs(fp) do
    if e[1] == 'z' then
      redis.call('ZADD', e[2], e[3], e[4])
      if e[5] then redis.call('SADD', e[5], e[6]) end
    elseif e[1] == 's' then
      redis.call('SADD', e[2], e[3])
    elseif e[1] == 'h' then
      if redis.call('HSET', e[2], e[3], '1') == 1 then bump(e[2]) end
    elseif e[1] == 'e' then
      if redis.call('EXISTS', e[4]) == 1 then redis.call('SADD', e[2], e[3]) end
    elseif e[1] == 'g' then
      if redis.call('ZADD', e[2], e[3], e[4]) == 1 then
        tails(e[7], 1)
        regroup(e)
      end
    else
      redis.call('SET', e[2], e[3])
    end
  end
end

-- Only what changed: an entry in both footprints is left alone. Removing and adding it back is
-- not the same: emptying a dependents hash takes its task out of the unsettled set, which
-- adding the entry back does not undo (a dependent of two tasks rewritten by one's follow-up
-- would hide the other from the sweep), and each dependents hash it is in would get a new version.
local function reindex(old, new)
  local same, inNew, gone, added = {}, {}, {}, {}
  for _, e in ipairs(new) do inNew[cjson.encode(e)] = true end
  for _, e in ipairs(old or {}) do
    local s = cjson.encode(e)
    if inNew[s] then same[s] = true else gone[#gone + 1] = e end
  end
  for _, e in ipairs(new) do
    if not same[cjson.encode(e)] then added[#added + 1] = e end
  end
  unindex(gone)
  index(added)
end
`;
