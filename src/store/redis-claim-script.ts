import { BUCKET_CURSOR_LUA, EVENTS_LUA, GROUP_ROOM_LUA, INDEX_LUA } from "./redis-scripts.js";

/**
 * Splicing of JSON records written by `JSON.stringify` (no whitespace), so the claim script can
 * change a few fields of a record and leave every other byte as it was. Redis's cjson cannot
 * round-trip records: it writes an empty array as `{}` and numbers with 14 digits.
 *   members(s, i): the members of the object or array opening at s[i], as {key or false, raw value}
 *   fields(json) / get / set / encodeObject: a record's top-level fields, in order
 *   isoMs(text): milliseconds of a `Date.toISOString()` text (nil for any other form)
 */
const JSON_LUA = `
local byte, sub, find = string.byte, string.sub, string.find

local function stringEnd(s, i)
  local j = i + 1
  while true do
    local at, _, c = find(s, '(["\\\\])', j)
    if c == '"' then return at end
    j = at + 2
  end
end

local function valueEnd(s, i)
  local c = byte(s, i)
  if c == 34 then return stringEnd(s, i) end
  if c == 123 or c == 91 then
    local depth, j = 0, i
    while true do
      local at, _, ch = find(s, '([%[%]{}"])', j)
      if ch == '"' then
        j = stringEnd(s, at) + 1
      else
        if ch == '{' or ch == '[' then depth = depth + 1 else depth = depth - 1 end
        if depth == 0 then return at end
        j = at + 1
      end
    end
  end
  return (find(s, '[,%]}]', i) or (#s + 1)) - 1
end

local function members(s, i)
  local out = {}
  local obj = byte(s, i) == 123
  local j = i + 1
  local c = byte(s, j)
  if c == 125 or c == 93 then return out end
  while true do
    local key = false
    if obj then
      local e = stringEnd(s, j)
      key = sub(s, j + 1, e - 1)
      j = e + 2
    end
    local e = valueEnd(s, j)
    out[#out + 1] = {key, sub(s, j, e)}
    j = e + 1
    if byte(s, j) ~= 44 then return out end
    j = j + 1
  end
end

local function fields(json)
  local list, at = members(json, 1), {}
  for n, m in ipairs(list) do at[m[1]] = n end
  return {list = list, at = at}
end

local function get(r, key)
  local n = r.at[key]
  return n and r.list[n][2]
end

-- An existing field keeps its place; a new one goes last (as with {...record, key: value}).
local function set(r, key, raw)
  local n = r.at[key]
  if n then
    r.list[n][2] = raw
  else
    r.list[#r.list + 1] = {key, raw}
    r.at[key] = #r.list
  end
end

local function encodeObject(r)
  local parts = {}
  for n, m in ipairs(r.list) do parts[n] = '"' .. m[1] .. '":' .. m[2] end
  return '{' .. table.concat(parts, ',') .. '}'
end

local function isoMs(text)
  local y, mo, d, h, mi, s, ms = string.match(text or '', '^"(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)%.(%d%d%d)Z"$')
  if not y then return nil end
  y, mo = tonumber(y), tonumber(mo)
  -- Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((mo + 9) % 12) + 2) / 5) + tonumber(d) - 1
  local days = era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
  return ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60000 + tonumber(s) * 1000 + tonumber(ms)
end
`;

/**
 * Claim-next in one step (`POST /tasks/claim` on Redis): checks the registration and the node,
 * picks the best task that fits, and writes the claim with its index entries and its
 * `task.claimed` event, atomically. It states in Lua what `rules.assertNodeCanClaim`,
 * `rules.coolingDown`, `hasConcurrencyRoom` and `rules.claimTask` state in TypeScript
 * (src/core/tasks.ts, src/core/concurrency.ts; the lookahead windows of TaskService.claimBest);
 * test/store/redis-claim-rules.test.ts runs one table of cases through both and demands the
 * same answers, records, index entries and events, byte for byte.
 *
 * ARGV: prefix, retention, max event bytes, transaction id ("" = none), registration id, its
 *   JSON, node id, its JSON, now (ms), now (ISO, JSON), lease end (ISO, JSON), worker (JSON),
 *   claimed_by (JSON), repos (JSON array, "" = any), lookahead (how many of the best tasks with
 *   room are looked at), the key prefix of the claimed tasks per concurrency key, the footprint
 *   template of the claimed task ([entry JSON, optional fields it needs...]; {{id}}, {{repo}},
 *   {{key}}, {{ckey}} are filled in).
 * A concurrency group is met once, at its head's place in its bucket (see bucketOf); a full one
 * is passed over after one SCARD (GROUP_ROOM_LUA), its tasks never read. Each task looked at is
 * checked too, for keyed tasks in buckets of older layouts.
 * Returns one of
 *   {"claimed", task JSON, event id, event JSON without id}
 *   {"none"}               no task fitting the node's labels and the repos may be claimed now
 *                          (none is claimable, or their concurrency keys are full)
 *   {"skipped"}            tasks fit, but those looked at are in their cooldown for this node
 *   {"node", node JSON}    the node may not claim now (the coordinator's rules say why)
 *   {"registration"}       the registration is not (any more) this node's
 *   {"fallback", why}      a record this script leaves to the optimistic transaction
 * A claim's outcome is kept for 5 minutes under tx:<id>; a second run of the id returns it. It
 * is kept without the task record (a kilobyte or more, and one outcome per claim: at 1,000
 * claims/s that was ~400 MB of Redis memory), which a second run reads again: the task as it is
 * now, still this claim's unless its lease ran out meanwhile.
 */
export const CLAIM_LUA = `
local P, retention, maxBytes, txid = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local reg, regJson, nodeId, nodeIdJson = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local nowMs, nowJson, leaseJson = tonumber(ARGV[9]), ARGV[10], ARGV[11]
local workerJson, claimedByJson, reposArg, lookahead = ARGV[12], ARGV[13], ARGV[14], tonumber(ARGV[15])
local claimedKeyPrefix, footprintTemplate = ARGV[16], ARGV[17]

local txkey = nil
if txid ~= '' then
  txkey = P .. 'tx:' .. txid
  local seen = redis.call('GET', txkey)
  if seen then
    local outcome = cjson.decode(seen)
    -- Kept whole by a replica of an older build (rolling upgrade).
    if string.sub(outcome[2], 1, 1) == '{' then return outcome end
    local taskJson = redis.call('HGET', P .. 'task:' .. outcome[2], 'j')
    if not taskJson then return {'fallback', 'claimed task ' .. outcome[2] .. ' is gone'} end
    return {'claimed', taskJson, outcome[3], outcome[4]}
  end
end
${JSON_LUA}
${GROUP_ROOM_LUA}
-- The registration and the node (rules.assertNodeCanClaim).
if redis.call('GET', P .. 'reg:' .. reg) ~= nodeId then return {'registration'} end
local nodeKey = P .. 'node:' .. nodeId
local nodeJson = redis.call('HGET', nodeKey, 'j')
if not nodeJson then return {'registration'} end
local node = fields(nodeJson)
if get(node, 'registration_id') ~= regJson then return {'registration'} end
local claimedRaw = get(node, 'claimed_tasks')
local capacity = cjson.decode(get(node, 'capacity'))
if get(node, 'status') ~= '"online"' or get(node, 'health') == '"draining"' or get(node, 'cordoned') == 'true'
  or #members(claimedRaw, 1) >= capacity.max_workers then
  return {'node', nodeJson}
end
local labels = cjson.decode(get(node, 'labels'))

-- The pending buckets this node's labels and the repos fit, of groups with room (as PENDING_LUA).
local repos = nil
if reposArg ~= '' then
  repos = {}
  for _, r in ipairs(cjson.decode(reposArg)) do repos[r] = true end
end
${BUCKET_CURSOR_LUA}
-- Each fitting bucket in claim order: its head first, then 32 at a time.
local cursors = {}
for _, member in ipairs(redis.call('SMEMBERS', P .. 'pbuckets')) do
  local b = cjson.decode(member)
  local fits = repos == nil or repos[b[1]] == true
  if fits then
    for k, v in pairs(b[2]) do
      if labels[k] ~= v then fits = false break end
    end
  end
  if fits then fits = bucketHasRoom(b) end
  if fits then
    local c = bucketCursor(P .. 'pq:' .. redis.sha1hex(member), 1, 32)
    if c.id then cursors[#cursors + 1] = c end
  end
end
if #cursors == 0 then return {'none'} end

-- rules.coolingDown: this node gave the task back lately.
local function coolingDown(t)
  local raw = get(t, 'cooldown')
  if raw == nil or raw == 'null' then return false end
  local c = fields(raw)
  if get(c, 'node_id') ~= nodeIdJson then return false end
  local untilMs = isoMs(get(c, 'until'))
  if untilMs == nil then return nil end
  return untilMs > nowMs
end

-- A concurrency key (src/core/concurrency.ts): its raw JSON, or nil when the task has none.
local function keyOf(t)
  local raw = get(t, 'concurrency_key')
  if raw == nil or raw == 'null' or raw == '""' then return nil end
  return raw
end

-- hasConcurrencyRoom: fewer claimed with the task's key than its limit.
local function hasRoom(t)
  local raw = keyOf(t)
  if raw == nil then return true end
  local limit = get(t, 'concurrency_limit')
  return claimedCount(cjson.decode(raw)) < ((limit == nil or limit == 'null') and 1 or tonumber(limit))
end

-- The walk: a group's head entry costs one room check (counted once per key) and, with room,
-- brings the group's tasks into the walk; a full key's tasks are never read. Only tasks looked
-- at count toward the lookahead (as the window of listPending({withRoom}) in TypeScript): a
-- keyed task of an older layout's bucket whose key is full is passed over without counting.
local id, task = nil, nil
local looked, sawCooling = 0, false
while looked < lookahead do
  local best = bestCursor(cursors)
  if not best then break end
  local gd = groupAt(best)
  if gd then
    if bucketHasRoom(cjson.decode(gd)) then cursors[#cursors + 1] = groupCursor(gd, 1, 32) end
  else
    local json = redis.call('HGET', P .. 'task:' .. best.id, 'j')
    local t = json and fields(json)
    local status = t and get(t, 'status')
    if status == '"pending"' or status == '"orphaned"' then
      if hasRoom(t) then
        looked = looked + 1
        local cooling = coolingDown(t)
        if cooling == nil then return {'fallback', 'cooldown of ' .. best.id} end
        if cooling then
          sawCooling = true
        else
          id, task = best.id, t
          break
        end
      end
    else
      looked = looked + 1
    end
  end
  advance(best)
end
if not id then return {sawCooling and 'skipped' or 'none'} end

-- rules.claimTask: the claimed task and its event.
local idJson = '"' .. id .. '"'
local from, repoRaw = get(task, 'status'), get(task, 'repo')
local updatedMs = isoMs(get(task, 'updated_at'))
if not updatedMs or not repoRaw or #repoRaw > 300 then return {'fallback', 'task ' .. id} end
local attempts = string.format('%d', tonumber(get(task, 'attempts')) + 1)
set(task, 'status', '"claimed"')
set(task, 'attempts', attempts)
set(task, 'claimed_by', claimedByJson)
set(task, 'claimed_node', nodeIdJson)
set(task, 'worker_name', workerJson)
set(task, 'claimed_at', nowJson)
set(task, 'lease_expires_at', leaseJson)
set(task, 'updated_at', nowJson)
set(task, 'cooldown', 'null')
local taskJson = encodeObject(task)
local keyRaw = keyOf(task)
local event = '{"type":"task.claimed","data":{"task_id":' .. idJson .. ',"repo":' .. repoRaw .. ',"status":"claimed"'
  .. (keyRaw and (',"concurrency_key":' .. keyRaw) or '') .. ',"node_id":' .. nodeIdJson .. ',"worker":' .. workerJson .. ',"claimed_by":' .. claimedByJson
  .. ',"attempt":' .. attempts .. ',"from":' .. from .. ',"waited_ms":' .. string.format('%d', math.max(0, nowMs - updatedMs))
  .. ',"ts":' .. nowJson .. '}}'

-- The node holds the claim; a cancellation of an earlier claim of this task is dropped.
if claimedRaw == '[]' then claimedRaw = '[' .. idJson .. ']' else claimedRaw = sub(claimedRaw, 1, -2) .. ',' .. idJson .. ']' end
local kept = {}
for _, m in ipairs(members(get(node, 'cancelled_tasks') or '[]', 1)) do
  if get(fields(m[2]), 'task_id') ~= idJson then kept[#kept + 1] = m[2] end
end
set(node, 'claimed_tasks', claimedRaw)
set(node, 'cancelled_tasks', '[' .. table.concat(kept, ',') .. ']')

-- Writes, as COMMIT_LUA would write them.
${INDEX_LUA}
-- Optional fields are filled in raw (JSON-escaped, as the template's strings are).
local fill = {id = id, repo = sub(repoRaw, 2, -2)}
local idemRaw = get(task, 'idempotency_key')
if idemRaw and idemRaw ~= 'null' and idemRaw ~= '""' then fill.key = sub(idemRaw, 2, -2) end
if keyRaw then fill.ckey = sub(keyRaw, 2, -2) end
local entries = {}
for _, e in ipairs(cjson.decode(footprintTemplate)) do
  local needed = true
  for n = 2, #e do
    if fill[e[n]] == nil then needed = false end
  end
  if needed then entries[#entries + 1] = e[1] end
end
local fp = string.gsub('[' .. table.concat(entries, ',') .. ']', '{{(%a+)}}', fill)
local taskKey = P .. 'task:' .. id
local old = redis.call('HGET', taskKey, 'x')
redis.call('HSET', taskKey, 'j', taskJson, 'x', fp)
redis.call('HINCRBY', taskKey, 'v', 1)
reindex(old and cjson.decode(old), cjson.decode(fp))
-- A claim changes no index entry of the node (status, last_seen, registration).
redis.call('HSET', nodeKey, 'j', encodeObject(node))
redis.call('HINCRBY', nodeKey, 'v', 1)
${EVENTS_LUA}
local first = appendEvents(P, retention, maxBytes, {event})
local reply = {'claimed', taskJson, first, event}
if txkey then redis.call('SET', txkey, cjson.encode({'claimed', id, first, event}), 'NX', 'EX', 300) end
return reply
`;
