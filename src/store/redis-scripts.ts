/**
 * Lua scripts of the Redis store. Each runs atomically on the server; keys are computed inside
 * (from the prefix or from footprints), so the store supports a single Redis (or a primary with
 * replicas), not Redis Cluster.
 */

/**
 * Index upkeep from footprints (see redis-keys.ts): `unindex(fp)` removes a record's entries,
 * `index(fp)` adds them, `reindex(old, new)` (footprint JSONs, old nil for a new record) moves a
 * rewritten record's entries: only those that changed. Most entries outlive a write (a task's
 * listings by id and repo; all of a node's on a claim or complete), and removing and adding them
 * again cost four to eight commands a write. Needs `P` (the key prefix) in scope.
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
        if redis.call('HLEN', e[2]) <= 1 then redis.call('DEL', e[2]) else bump(e[2]) end
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
    else
      redis.call('SET', e[2], e[3])
    end
  end
end

local function reindex(oldJson, newJson)
  if oldJson == newJson then return end
  local new = cjson.decode(newJson)
  if not oldJson then return index(new) end
  local old = cjson.decode(oldJson)
  local inNew, inOld = {}, {}
  for _, e in ipairs(new) do inNew[table.concat(e, '\0')] = true end
  local gone, added = {}, {}
  for _, e in ipairs(old) do
    local id = table.concat(e, '\0')
    inOld[id] = true
    if not inNew[id] then gone[#gone + 1] = e end
  end
  for _, e in ipairs(new) do
    if not inOld[table.concat(e, '\0')] then added[#added + 1] = e end
  end
  unindex(gone)
  index(added)
end

`;

/**
 * `appendEvents(P, retention, maxBytes, events)`: appends events (JSON of {type, data}, without
 * id) to the log with the next ids, trims it, publishes them; returns the first id and the
 * stored JSONs.
 */
export const EVENTS_LUA = `
local function appendEvents(P, retention, maxBytes, events)
  local ne = #events
  local E, bytesKey = P .. 'events', P .. 'event-bytes'
  -- The log's size in bytes (events.max_bytes); counted once from the log if the key is missing.
  local bytes = tonumber(redis.call('GET', bytesKey) or '-1')
  if bytes < 0 then
    bytes = 0
    for _, m in ipairs(redis.call('ZRANGE', E, 0, -1)) do bytes = bytes + #m end
  end
  local last = redis.call('INCRBY', P .. 'event-id', ne)
  local first = last - ne + 1
  local out = {}
  for k = 0, ne - 1 do
    local id = first + k
    local full = '{"id":' .. string.format('%d', id) .. ',' .. string.sub(events[k + 1], 2)
    redis.call('ZADD', E, id, full)
    bytes = bytes + #full
    out[#out + 1] = full
  end
  -- Keep the last \`retention\` events, fewer when they hold more than maxBytes (the newest
  -- always stays); the counter above never goes back, so ids are never reused.
  local cutoff = last - retention
  -- By count first: the events at or below the cutoff (a commit usually trims about as many as
  -- it adds), their sizes, then one removal.
  local below = string.format('%d', cutoff)
  local old = redis.call('ZRANGEBYSCORE', E, '-inf', below)
  if #old > 0 then
    for _, m in ipairs(old) do bytes = bytes - #m end
    redis.call('ZREMRANGEBYSCORE', E, '-inf', below)
  end
  while bytes > maxBytes do
    -- Then by size, one at a time (the newest always stays).
    local oldest = redis.call('ZRANGE', E, 0, 0, 'WITHSCORES')
    if #oldest == 0 or tonumber(oldest[2]) >= last then break end
    bytes = bytes - #oldest[1]
    redis.call('ZREMRANGEBYRANK', E, 0, 0)
  end
  redis.call('SET', bytesKey, string.format('%d', bytes))
  redis.call('PUBLISH', P .. 'events', '[' .. table.concat(out, ',') .. ']')
  return first, out
end
`;

/**
 * Commit of one transaction.
 * ARGV: prefix, retention, max event bytes, transaction id ("" = none), #conditions, #writes, #events, then
 *   conditions: kind ("v": hash version, "k": string value, "n": a set's size), key, expected ("0" / "" = absent)
 *   writes: key, record JSON, footprint JSON (JSON "" deletes the record and its index entries)
 *   events: JSON of {type, data} (without id)
 * Returns {0, 0} when a condition fails (nothing written), else {1, first event id (0 if none)}.
 * With a transaction id, the outcome is kept for 5 minutes under tx:<id>, and a second run of
 * that id (a re-sent command) returns it without applying anything: a commit applies at most once.
 */
export const COMMIT_LUA = `
local P, retention, maxBytes, txid = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local nc, nw, ne = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local txkey = nil
if txid ~= '' then
  txkey = P .. 'tx:' .. txid
  local seen = redis.call('GET', txkey)
  if seen then
    local ok, first = string.match(seen, '^(%d+):(%d+)$')
    return {tonumber(ok), tonumber(first)}
  end
end
local function done(ok, first)
  if txkey then redis.call('SET', txkey, ok .. ':' .. string.format('%d', first), 'NX', 'EX', 300) end
  return {ok, first}
end

local i = 8
for _ = 1, nc do
  local kind, key, want = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  local have
  if kind == 'v' then
    have = redis.call('HGET', key, 'v') or '0'
  elseif kind == 'n' then
    have = string.format('%d', redis.call('SCARD', key))
  else
    have = redis.call('GET', key) or ''
  end
  if have ~= want then return done(0, 0) end
end

${INDEX_LUA}
for _ = 1, nw do
  local key, json, fp = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  local old = redis.call('HGET', key, 'x')
  if json == '' then
    if old then unindex(cjson.decode(old)) end
    redis.call('DEL', key)
  else
    reindex(old or nil, fp)
    redis.call('HSET', key, 'j', json, 'x', fp)
    redis.call('HINCRBY', key, 'v', 1)
  end
end

${EVENTS_LUA}
local first = 0
if ne > 0 then
  local events = {}
  for k = 0, ne - 1 do events[k + 1] = ARGV[i + k] end
  first = appendEvents(P, retention, maxBytes, events)
end
return done(1, first)
`;

/**
 * The best claimable tasks for a node: only buckets whose repo and label requirements fit are
 * read, each only up to `limit`. ARGV: prefix, repos JSON array ("" = any), node labels JSON ("" = no filter),
 * limit. Returns a flat list: id, version, JSON, ... in claim order.
 */
export const PENDING_LUA = `
local P, limit = ARGV[1], tonumber(ARGV[4])
local repos = nil
if ARGV[2] ~= '' then
  repos = {}
  for _, r in ipairs(cjson.decode(ARGV[2])) do repos[r] = true end
end
local want = nil
if ARGV[3] ~= '' then want = cjson.decode(ARGV[3]) end
local fitting = {}
for _, member in ipairs(redis.call('SMEMBERS', P .. 'pbuckets')) do
  local b = cjson.decode(member)
  local fits = repos == nil or repos[b[1]] == true
  if fits and want then
    for k, v in pairs(b[2]) do
      if want[k] ~= v then fits = false break end
    end
  end
  if fits then fitting[#fitting + 1] = P .. 'pq:' .. redis.sha1hex(member) end
end
local ids
if #fitting == 1 then
  ids = redis.call('ZRANGE', fitting[1], 0, limit - 1)
else
  -- Merge the bucket heads in a scratch sorted set: Redis orders equal scores bytewise, as the
  -- buckets do (Lua string comparison would follow the server's locale).
  local tmp = P .. 'scratch:pending'
  redis.call('DEL', tmp)
  for _, key in ipairs(fitting) do
    local r = redis.call('ZRANGE', key, 0, limit - 1, 'WITHSCORES')
    for j = 1, #r, 2 do redis.call('ZADD', tmp, r[j + 1], r[j]) end
  end
  ids = redis.call('ZRANGE', tmp, 0, limit - 1)
  redis.call('DEL', tmp)
end
local out = {}
for _, id in ipairs(ids) do
  local rec = redis.call('HMGET', P .. 'task:' .. id, 'v', 'j')
  out[#out + 1] = id
  out[#out + 1] = rec[1]
  out[#out + 1] = rec[2]
end
return out
`;

/** A record through a string index (registration, idempotency key). ARGV: index key, record key prefix. Returns {} or {id, v, j}. */
export const VIA_LUA = `
local id = redis.call('GET', ARGV[1])
if not id then return {} end
local rec = redis.call('HMGET', ARGV[2] .. id, 'v', 'j')
return {id, rec[1], rec[2]}
`;

/**
 * Records named by an index read. ARGV: record key prefix, then a Redis command and its
 * arguments that return ids (SMEMBERS, ZRANGEBYSCORE, ZRANGEBYLEX, ...). Returns their JSON, in
 * the command's order, skipping ids without a record.
 */
export const RECORDS_LUA = `
local prefix = ARGV[1]
local args = {}
for i = 2, #ARGV do args[#args + 1] = ARGV[i] end
local out = {}
for _, id in ipairs(redis.call(unpack(args))) do
  local j = redis.call('HGET', prefix .. id, 'j')
  if j then out[#out + 1] = j end
end
return out
`;
