/**
 * Index upkeep from footprints (see redis-keys.ts): `unindex(fp)` removes a record's entries,
 * `index(fp)` adds them, `reindex(old, new)` (footprint JSONs, old nil for a new record) moves a
 * rewritten record's entries: only those that changed ("e" entries, which depend on another key,
 * are always written again). Most entries outlive a write (a task's listings by id and repo, all
 * of a node's on a claim or complete), and removing and adding them again cost four to eight
 * commands a write. Needs `P` (the key prefix) in scope.
 */
export const INDEX_LUA = `
-- A versioned hash ("h" footprint) changed: a number it never had, from one counter that never
-- goes back, so a reader's noted version cannot come round again.
local function bump(key)
  redis.call('HSET', key, 'v', redis.call('INCR', P .. 'deps-seq'))
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
    else
      redis.call('SET', e[2], e[3])
    end
  end
end

local function reindex(oldJson, newJson)
  if oldJson == newJson then return end
  local new = cjson.decode(newJson)
  if not oldJson then return index(new) end
  local function same(e) return e[1] ~= 'e' and table.concat(e, '\0') end
  local inNew, inOld = {}, {}
  for _, e in ipairs(new) do
    local id = same(e)
    if id then inNew[id] = true end
  end
  local gone, added = {}, {}
  for _, e in ipairs(cjson.decode(oldJson)) do
    local id = same(e)
    if id then inOld[id] = true end
    if not (id and inNew[id]) then gone[#gone + 1] = e end
  end
  for _, e in ipairs(new) do
    local id = same(e)
    if not (id and inOld[id]) then added[#added + 1] = e end
  end
  unindex(gone)
  index(added)
end

`;
