/**
 * The Lua of cluster-wide presence events (online/offline, joined/left per room). A "subject" is
 * `u\n<user>` or `r\n<room>\n<user>`; its state is a hash `<prefix>pres:<subject>` {n: live leases,
 * a: announced (1 after online/joined until offline/left), id, name, room, reason}. Leases are one
 * sorted set `<prefix>pres:leases` of `<subject>\n<connection>` scored by expiry; departures wait in
 * `<prefix>pres:due` scored by the time they may be announced (departure + PRESENCE_GRACE_MS).
 *
 * A transition is decided and appended to the event stream in the same script, so the stream's
 * online/offline (and joined/left) alternate per user (and room) whatever crashes in between.
 * KEYS: leases, due, stream. ARGV[1] prefix, ARGV[2] EVENTS_MAXLEN, then per script.
 * These scripts name state keys they derive from ARGV[1]: in a Redis Cluster that prefix is the
 * stream's `{events}` hash tag (RedisKeys.presenceEventsPrefix), so every key they touch lives in the
 * stream's slot.
 */
const HEAD = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix, maxlen = ARGV[1], ARGV[2]
local function stateKey(s) return prefix .. 'pres:' .. s end
local function append(kind, st, reason)
  local user = {id = st.id, name = st.name}
  local data
  if st.room then
    if kind == 'up' then data = {room = st.room, user = user, time = now}
    else data = {room = st.room, user = user, reason = reason, time = now} end
  else
    data = {user = user, time = now}
  end
  local etype
  if st.room then etype = (kind == 'up') and 'joined' or 'left'
  else etype = (kind == 'up') and 'online' or 'offline' end
  local json = cjson.encode(data)
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', 'type', etype, 'data', json)
  return {etype, json}
end
local function load(s)
  local h = redis.call('HGETALL', stateKey(s))
  local st = {n = 0, a = 0}
  for i = 1, #h, 2 do st[h[i]] = h[i + 1] end
  st.n = tonumber(st.n) or 0
  st.a = tonumber(st.a) or 0
  return st
end
-- One lease fewer; when none is left, the departure waits out the grace.
local function drop(s, reason, grace)
  local key = stateKey(s)
  local n = redis.call('HINCRBY', key, 'n', -1)
  if n > 0 then return end
  redis.call('HSET', key, 'n', 0, 'reason', reason)
  if tonumber(redis.call('HGET', key, 'a') or '0') == 1 then
    redis.call('ZADD', KEYS[2], now + grace, s)
  else
    redis.call('DEL', key)
  end
end
`;

/**
 * A connection arrives (or is refreshed): ARGV[3] subject, ARGV[4] connection, ARGV[5] lease ms,
 * ARGV[6] user id, ARGV[7] name, ARGV[8] room ('' for a user subject).
 * A room lease expires with the connection's live user lease (the refresh writes the user's first):
 * a crashed connection's rooms and user depart in one sweep, so its `left` events come before its
 * `offline` even when it joined the rooms long after it opened.
 * Returns {type, json} when it announced online/joined, else an empty list.
 */
export const PRESENCE_ARRIVE_LUA = `${HEAD}
local s, conn, ttl = ARGV[3], ARGV[4], tonumber(ARGV[5])
local key = stateKey(s)
local expiry = now + ttl
if ARGV[8] ~= '' then
  local user = tonumber(redis.call('ZSCORE', KEYS[1], 'u\\n' .. ARGV[6] .. '\\n' .. conn))
  if user and user > now then expiry = user end
end
if redis.call('ZADD', KEYS[1], expiry, s .. '\\n' .. conn) == 1 then
  redis.call('HINCRBY', key, 'n', 1)
end
redis.call('ZREM', KEYS[2], s)
redis.call('HSET', key, 'id', ARGV[6], 'name', ARGV[7])
if ARGV[8] ~= '' then redis.call('HSET', key, 'room', ARGV[8]) end
if tonumber(redis.call('HGET', key, 'a') or '0') == 1 then return {} end
redis.call('HSET', key, 'a', 1)
return append('up', load(s), '')
`;

/** A connection departs: ARGV[3] subject, ARGV[4] connection, ARGV[5] reason, ARGV[6] grace ms. */
export const PRESENCE_DEPART_LUA = `${HEAD}
local s = ARGV[3]
if redis.call('ZREM', KEYS[1], s .. '\\n' .. ARGV[4]) == 0 then return 0 end
drop(s, ARGV[5], tonumber(ARGV[6]))
return 1
`;

/**
 * The sweep, run by every instance: expired leases (their instance crashed) depart with reason
 * `crash`, and departures whose grace has passed are announced. ARGV[3] grace ms, ARGV[4] limit.
 * Returns a flat list {type, json, type, json, ...} of what it announced.
 */
export const PRESENCE_SWEEP_LUA = `${HEAD}
local grace, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
for _, m in ipairs(expired) do
  redis.call('ZREM', KEYS[1], m)
  local i = m:match('^.*()\\n')
  drop(m:sub(1, i - 1), 'crash', grace)
end
local out = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
for _, s in ipairs(due) do
  redis.call('ZREM', KEYS[2], s)
  local st = load(s)
  if st.n <= 0 then
    if st.a == 1 then
      local e = append('down', st, st.reason or 'disconnect')
      table.insert(out, e[1])
      table.insert(out, e[2])
    end
    redis.call('DEL', stateKey(s))
  end
end
return out
`;
