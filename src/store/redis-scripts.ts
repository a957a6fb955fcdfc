/**
 * Lua scripts of the Redis store. Each runs atomically on the server; keys are computed inside
 * (from the prefix or from footprints), so the store supports a single Redis (or a primary with
 * replicas), not Redis Cluster. The index upkeep shared by the commit and the claim script is in
 * redis-index-script.ts (re-exported here).
 */
import { INDEX_LUA } from "./redis-index-script.js";

export { INDEX_LUA };

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
  if old then old = cjson.decode(old) end
  if json == '' then
    if old then unindex(old) end
    redis.call('DEL', key)
  else
    redis.call('HSET', key, 'j', json, 'x', fp)
    redis.call('HINCRBY', key, 'v', 1)
    reindex(old, cjson.decode(fp))
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
 * groupHasRoom (src/core/concurrency.ts) for a pending bucket descriptor (see bucketOf): a
 * bucket without a concurrency group has room; one with `[repo, labels, limit, key]` while
 * fewer than `limit` tasks of `key` are claimed. Each key is counted once per script run.
 * Needs `claimedKeyPrefix` (the claimed-by-key set of a key is that prefix and the key).
 */
export const GROUP_ROOM_LUA = `
local claimedWithKey = {}
local function claimedCount(key)
  local n = claimedWithKey[key]
  if n == nil then
    n = redis.call('SCARD', claimedKeyPrefix .. key)
    claimedWithKey[key] = n
  end
  return n
end
local function bucketHasRoom(b)
  return b[4] == nil or claimedCount(b[4]) < b[3]
end
`;

/**
 * Pending buckets walked in claim order: priority rank (the score), then id bytewise, as Redis
 * orders equal scores (Lua's own string `<` would follow the server's locale). One merged
 * order over the buckets a node fits, read lazily, so a claim or a list reads a few entries of
 * each bucket instead of `limit` of every one.
 *   bucketCursor(key, first, step): a cursor on a bucket's entries, `first` read at once, then
 *     `step` at a time; c.id and c.score are its current entry (c.id nil past the end)
 *   advance(c): the cursor's next entry
 *   bestCursor(cursors): the cursor whose entry comes first in claim order (nil when all ended)
 *   cursorHeap(cursors): the cursors that have an entry, as a binary heap in claim order (h[1]
 *     first), for merges of many picks over many buckets; settle(h) after h[1] moved on;
 *     push(h, c) adds a cursor
 *   groupAt(c): the group descriptor when the cursor's entry is a concurrency group's head
 *     (see bucketOf), else nil; groupCursor(gd, first, step) a cursor on that group's tasks,
 *     whose first entry is that head
 */
export const BUCKET_CURSOR_LUA = `
local function advance(c)
  c.at = c.at + 2
  if c.at > #c.buf then
    local n = c.pos == 0 and c.first or c.step
    c.buf, c.at = redis.call('ZRANGE', c.key, c.pos, c.pos + n - 1, 'WITHSCORES'), 1
    c.pos = c.pos + n
  end
  if c.at > #c.buf then c.id = nil else c.id, c.score = c.buf[c.at], tonumber(c.buf[c.at + 1]) end
  c.hi, c.lo = nil, nil
end

local function bucketCursor(key, first, step)
  local c = {key = key, first = first, step = step, pos = 0, buf = {}, at = -1}
  advance(c)
  return c
end

-- A task id as made by newId ("task-" and 20 base36 digits) is, bytewise, the order of two
-- 10-digit base36 numbers (each below 2^53); they are worked out once per entry, as a byte loop
-- per comparison costs more than the rest of a merge. Any other id: false (a byte loop then).
local function idNumbers(c)
  if c.hi == nil then
    local id = c.id
    -- A group's head is "<id>\\0<descriptor>": ordered by its id.
    if #id > 25 and string.byte(id, 26) == 0 then id = string.sub(id, 1, 25) end
    if #id == 25 and string.find(id, '^task%-[0-9a-z]+$') then
      c.hi, c.lo = tonumber(string.sub(id, 6, 15), 36), tonumber(string.sub(id, 16, 25), 36)
    else
      c.hi = false
    end
  end
  return c.hi
end

local function before(a, b)
  if a.score ~= b.score then return a.score < b.score end
  local x, y = a.id, b.id
  if x == y then return false end
  if idNumbers(a) and idNumbers(b) then
    if a.hi ~= b.hi then return a.hi < b.hi end
    return a.lo < b.lo
  end
  for i = 1, math.min(#x, #y) do
    local p, q = string.byte(x, i), string.byte(y, i)
    if p ~= q then return p < q end
  end
  return #x < #y
end

local function groupAt(c)
  local cut = string.find(c.id, '\\0', 1, true)
  if cut then return string.sub(c.id, cut + 1) end
  return nil
end

local function groupCursor(gd, first, step)
  return bucketCursor(P .. 'pg:' .. redis.sha1hex(gd), first, step)
end

local function bestCursor(cursors)
  local best = nil
  for _, c in ipairs(cursors) do
    if c.id and (best == nil or before(c, best)) then best = c end
  end
  return best
end

local function siftDown(h, i)
  local n = #h
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= n and before(h[l], h[m]) then m = l end
    if r <= n and before(h[r], h[m]) then m = r end
    if m == i then return end
    h[i], h[m] = h[m], h[i]
    i = m
  end
end

local function cursorHeap(cursors)
  local h = {}
  for _, c in ipairs(cursors) do
    if c.id then h[#h + 1] = c end
  end
  for i = math.floor(#h / 2), 1, -1 do siftDown(h, i) end
  return h
end

local function settle(h)
  if h[1].id == nil then
    h[1] = h[#h]
    h[#h] = nil
  end
  if h[1] then siftDown(h, 1) end
end

local function push(h, c)
  if c.id == nil then return end
  local i = #h + 1
  h[i] = c
  while i > 1 do
    local p = math.floor(i / 2)
    if not before(h[i], h[p]) then return end
    h[i], h[p] = h[p], h[i]
    i = p
  end
end
`;

/**
 * The best claimable tasks for a node: only buckets whose repo and label requirements fit are
 * read, merged in claim order (BUCKET_CURSOR_LUA), each only as far as the merge needs; a
 * concurrency group joins the merge where its head stands.
 * ARGV: prefix, repos JSON array ("" = any), node labels JSON ("" = no filter), limit, the key
 * prefix of the claimed tasks per concurrency key ("" = every task; else only tasks whose
 * concurrency group has room, PendingQuery.withRoom: a full group is passed over at its head,
 * after one SCARD, and a keyed task of an older layout's bucket by its record), claimed counts
 * to use instead of the SCARDs (JSON object key → count, "" = none; PendingQuery.claimedCounts).
 * Returns a flat list: id, version, JSON, ... in claim order.
 */
export const PENDING_LUA = `
local P, limit, claimedKeyPrefix = ARGV[1], tonumber(ARGV[4]), ARGV[5]
${GROUP_ROOM_LUA}
if ARGV[6] and ARGV[6] ~= '' then
  for key, n in pairs(cjson.decode(ARGV[6])) do claimedWithKey[key] = n end
end
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
  if fits and claimedKeyPrefix ~= '' then fits = bucketHasRoom(b) end
  if fits then fitting[#fitting + 1] = {P .. 'pq:' .. redis.sha1hex(member), b[4] ~= nil} end
end
${BUCKET_CURSOR_LUA}
-- Each bucket's share of the limit first (and a little more), then as much again while needed.
local share = math.min(limit, math.ceil(limit / math.max(1, #fitting)) + 1)
local cursors = {}
for _, f in ipairs(fitting) do
  local c = bucketCursor(f[1], share, share)
  c.grouped = f[2]
  cursors[#cursors + 1] = c
end
local heap = cursorHeap(cursors)
-- A keyed task of an older layout's bucket (not in a group): whether its key has room.
local function legacyRoom(json)
  if claimedKeyPrefix == '' or not json or not string.find(json, '"concurrency_key":"', 1, true) then return true end
  local t = cjson.decode(json)
  if type(t.concurrency_key) ~= 'string' or t.concurrency_key == '' then return true end
  local limit = type(t.concurrency_limit) == 'number' and t.concurrency_limit or 1
  return claimedCount(t.concurrency_key) < limit
end
local out = {}
while #out < limit * 3 do
  local c = heap[1]
  if not c then break end
  local id, grouped, gd = c.id, c.grouped, groupAt(c)
  advance(c)
  settle(heap)
  if gd then
    if claimedKeyPrefix == '' or bucketHasRoom(cjson.decode(gd)) then
      local g = groupCursor(gd, share, share)
      g.grouped = true
      push(heap, g)
    end
  else
    local rec = redis.call('HMGET', P .. 'task:' .. id, 'v', 'j')
    if grouped or legacyRoom(rec[2]) then
      out[#out + 1] = id
      out[#out + 1] = rec[1]
      out[#out + 1] = rec[2]
    end
  end
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
