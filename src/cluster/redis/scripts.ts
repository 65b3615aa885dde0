/**
 * The Lua scripts. Each one runs atomically in Redis: that is what makes "assign seq, append to
 * history, fan out" one step for every instance, and presence first/last answers exact under races.
 */

/**
 * A script for Redis Cluster: it fans out with SPUBLISH (sharded pub/sub) instead of PUBLISH. Every
 * channel a script publishes to is its room's, which hashes to the slot of the script's keys (the
 * `{room}` tag), so the message goes to that shard's subscribers only instead of over the cluster
 * bus to every node. On a single Redis the scripts keep PUBLISH.
 */
export function shardedLua(lua: string): string {
  return lua.replaceAll("redis.call('PUBLISH',", "redis.call('SPUBLISH',");
}

/**
 * PUBLISH_LUA for a Redis Cluster: sharded, and flagged to reach the sender records it is given by
 * name (their `{user}` slots on the room's node). Script flags need Redis 7, which a Cluster needs.
 */
export function clusterPublishLua(): string {
  return `#!lua flags=allow-cross-slot-keys\n${shardedLua(PUBLISH_LUA)}`;
}

/**
 * The `message` event of one publication, appended to the event stream in the publish script
 * itself: an acked message is in the stream, and the stream holds each room's messages in seq order
 * (webhooks keep it). `msg` is the message's JSON with `"epoch"` after the seq.
 */
const PUBLISH_EVENT_LUA = `if streamMax > 0 then
    local data = ARGV[i] .. nextSeq .. epochField .. ARGV[i + 1]
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', streamMax, '*', 'type', 'message', 'data', data)
  end`;

/**
 * Records seqs published with `skipHistory` (ascending) in the room's skips key (keys.ts): runs of
 * skipped seqs, member the run's first seq, score its last. A seq right after the newest run's last
 * extends it; any other starts a run (a stored message took the seqs in between). Every entry is a
 * run of seqs that were all skipped; one at or below the newest run's end (a confirmation repeated
 * after a failover) is ignored. Runs are separated by stored messages, so the run right before the
 * oldest message history holds is among the `size` + 1 newest: older ones are dropped. The key gets
 * the room's TTL. Used by the publish and the confirm scripts, only when they skipped something.
 */
export const RECORD_SKIPS_LUA = `
local function recordSkips(key, skipped, size, roomTtl)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  local first, finish = nil, nil
  if #last > 0 then
    first = last[1]
    finish = tonumber(last[2])
  end
  local changed, started = false, false
  for _, s in ipairs(skipped) do
    if finish == s - 1 then
      finish = s
      changed = true
    elseif not finish or s > finish then
      if changed then redis.call('ZADD', key, finish, first) end
      first = s
      finish = s
      changed = true
      started = true
    end
  end
  if changed then redis.call('ZADD', key, finish, first) end
  if started then redis.call('ZREMRANGEBYRANK', key, 0, -size - 2) end
  if roomTtl > 0 then redis.call('PEXPIRE', key, roomTtl) end
end
`;

/**
 * Publish a batch of messages to one room: the publications one instance made to the room during
 * one event-loop turn (publish-batcher.ts), in that order. Each gets the room's next seq (so a batch's
 * published messages have consecutive seqs), its history entry (unless not stored), its event-stream
 * entry and its idempotency record, checked and taken one by one: a record already answered (earlier
 * in the batch too) answers its original seq and is not published again.
 * A publication's record is one of two keys (the flag says which):
 * - the room's idempotency key (RedisKeys.idem, in the room's slot) holding the seq;
 * - for a client message, its sender record (RedisKeys.record, in the sender's slot) holding
 *   `{"room":<room>,"seq":<seq>}` (the batch's record head, then the seq and `}`): the one record
 *   says both that the sender took the id for this room and which seq it got, so a client message
 *   costs one key, not two. On a single Redis it is in KEYS. In a Redis Cluster only when its slot
 *   lives on the room's node: it is named in ARGV (a script's KEYS share one slot there) and reached
 *   with the `allow-cross-slot-keys` flag (clusterPublishLua). Every named record is checked first:
 *   one whose slot is not on this node (moved since the caller read the slot map) fails the batch
 *   before anything is written. A record of another room (or one without a seq, written
 *   by IdempotencyStore.take or an instance that took the id in a step of its own) answers status 2
 *   with the record found and publishes nothing; the broker reads it (priorPublication).
 * Then ONE PUBLISH carries every published message of the batch: `m<epoch>|<message JSON>` for one,
 * `b<epoch>|[<JSON>,<JSON>,...]` for several (keys.ts). The seqs of those not stored are recorded in
 * the skips key (RECORD_SKIPS_LUA; nothing for a batch that skipped nothing).
 * KEYS: meta, log, event stream, skips, then the batch's declared records (each once).
 * ARGV: epoch candidate, history size (0: nothing stored, HISTORY_SIZE=0), channel, room key TTL ms
 * (0: none), event stream MAXLEN (0: no stream; see PUBLISH_EVENT_LUA), the sender records' head
 * (`{"room":<room JSON>,"seq":`, '' when no publication names a sender record), the number of named
 * records, then four per publication: JSON head (up to `"seq":`), JSON tail (after the seq), its
 * flags (8 * the index of its record, 0 for none: in KEYS, or among the named ones with + 4; + 2
 * for a sender record; + 1 to store it in history, not for `skipHistory`), the record's TTL ms; then
 * the named records (each once).
 * Returns {epoch, status, value, status, value, ...}, a pair per publication in order: status 1
 * (published) or 0 (a retry of an answered record) with the seq, or 2 (a sender record this script
 * cannot answer: another room's, or one without a seq) with the record found.
 * A room whose keys are missing (new, expired, or lost by Redis) gets the candidate epoch; records
 * answered before that are not taken for priors (the seqs they hold belong to the lost epoch), and
 * skipped seqs recorded before are dropped.
 * Each seq is formatted once (Lua formats a number with sprintf each time it meets one in a string).
 */
export const PUBLISH_LUA = `${RECORD_SKIPS_LUA}
local named = tonumber(ARGV[7])
local last = #ARGV - named
for j = last + 1, #ARGV do
  local reached = redis.pcall('EXISTS', ARGV[j])
  if type(reached) == 'table' and reached.err then return redis.error_reply(reached.err) end
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local fresh = not epoch
if fresh then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
  redis.call('DEL', KEYS[4])
end
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local size = tonumber(ARGV[2])
local streamMax = tonumber(ARGV[5])
local epochField = ',"epoch":' .. cjson.encode(epoch)
-- Redis 7: SET NX GET checks and takes a key in one call (6.2 has no NX with GET).
local setGet = (redis.REDIS_VERSION_NUM or 0) >= 0x070000
local recordHead = ARGV[6]
local headLength = #recordHead
local out = {epoch}
-- The batch payload's pieces, the messages with commas between (see the PUBLISH below).
local published = {}
local stored = {}
local skipped = {}
local answered = {}
for i = 8, last, 4 do
  local flags = tonumber(ARGV[i + 2])
  local k = math.floor(flags / 8)
  local isRecord = flags % 4 >= 2
  local key = nil
  if flags % 8 >= 4 then key = ARGV[last + k] elseif k > 0 then key = KEYS[k] end
  local nextSeq = tostring(seq + 1)
  local prior = nil
  local other = nil
  -- The record already holds what it gets if this publication is published (taken with SET NX).
  local taken = false
  local value
  if k > 0 then
    prior = answered[key]
    if not prior then
      if isRecord then value = recordHead .. nextSeq .. '}' else value = nextSeq end
      local held
      if setGet then
        held = redis.call('SET', key, value, 'PX', ARGV[i + 3], 'NX', 'GET')
        taken = not held
      elseif redis.call('SET', key, value, 'PX', ARGV[i + 3], 'NX') then
        taken = true
      else
        held = redis.call('GET', key)
      end
      if held then
        if not isRecord then
          if not fresh then prior = held end
        elseif string.sub(held, 1, headLength) == recordHead then
          if not fresh then prior = string.sub(held, headLength + 1, -2) end
        else
          other = held
        end
      end
    end
  end
  if other then
    out[#out + 1] = 2
    out[#out + 1] = other
  elseif prior then
    out[#out + 1] = 0
    out[#out + 1] = tonumber(prior)
  else
    seq = seq + 1
    local msg = ARGV[i] .. nextSeq .. ARGV[i + 1]
    if #published > 0 then published[#published + 1] = ',' end
    published[#published + 1] = msg
    if size > 0 then
      if flags % 2 == 1 then
        stored[#stored + 1] = nextSeq
        stored[#stored + 1] = msg
      else
        skipped[#skipped + 1] = seq
      end
    end
    ${PUBLISH_EVENT_LUA}
    if k > 0 then
      if not taken then redis.call('SET', key, value, 'PX', ARGV[i + 3]) end
      answered[key] = nextSeq
    end
    out[#out + 1] = 1
    out[#out + 1] = seq
  end
end
if #published == 0 then return out end
redis.call('HSET', KEYS[1], 'seq', seq)
if #stored > 0 then
  redis.call('ZADD', KEYS[2], unpack(stored))
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -size - 1)
end
local roomTtl = tonumber(ARGV[4])
if #skipped > 0 then recordSkips(KEYS[4], skipped, size, roomTtl) end
-- Lua hashes every byte of every string it makes: the payload is made once, in one table.concat.
if #published == 1 then
  redis.call('PUBLISH', ARGV[3], 'm' .. epoch .. '|' .. published[1])
else
  table.insert(published, 1, 'b' .. epoch .. '|[')
  published[#published + 1] = ']'
  redis.call('PUBLISH', ARGV[3], table.concat(published))
end
if roomTtl > 0 then
  redis.call('PEXPIRE', KEYS[1], roomTtl)
  redis.call('PEXPIRE', KEYS[2], roomTtl)
end
return out
`;

/**
 * Read a room's history. Creates no room key: a room nobody published to has seq 0 and answers a
 * candidate epoch that every instance computes alike, sha1(generation | room | time bucket), so that
 * joiners on all instances agree and the first publication (from an instance that answered it)
 * stores it. The generation key (one for the whole deployment, made once) changes when Redis is
 * restarted empty or flushed; the time bucket (REDIS_ROOM_TTL_SEC long) changes before a room whose
 * keys expired can be born again, so a room's new generation never gets an epoch it had before.
 * KEYS: meta, log, generation, skips. ARGV: a random generation in case there is none, since ('' for
 * none), client epoch ('' for none), room key TTL ms, room name.
 * Returns {seq, epoch, oldestSeq, mode, messages, covered}: mode 'none' (no since), 'after' (messages
 * with seq > since) or 'all' (another epoch, or since past the current seq: everything held). With
 * 'after', `covered` is the lowest seq from which nothing was lost: oldestSeq, or when since + 1 is
 * below it and the seqs right before it were skipped (RECORD_SKIPS_LUA), the first seq of that run.
 */
export const HISTORY_LUA = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  local gen = redis.call('GET', KEYS[3])
  if not gen then
    gen = ARGV[1]
    redis.call('SET', KEYS[3], gen)
  end
  local bucket = 0
  local ttl = tonumber(ARGV[4])
  if ttl > 0 then
    local t = redis.call('TIME')
    bucket = math.floor((tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) / ttl)
  end
  local candidate = string.sub(redis.sha1hex(gen .. '|' .. ARGV[5] .. '|' .. string.format('%d', bucket)), 1, 12)
  local mode = 'none'
  if ARGV[2] ~= '' then
    mode = 'after'
    if (ARGV[3] ~= '' and ARGV[3] ~= candidate) or tonumber(ARGV[2]) > 0 then mode = 'all' end
  end
  return {0, candidate, 1, mode, {}}
end
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local roomTtl = tonumber(ARGV[4])
if roomTtl > 0 then
  redis.call('PEXPIRE', KEYS[1], roomTtl)
  redis.call('PEXPIRE', KEYS[2], roomTtl)
  redis.call('PEXPIRE', KEYS[4], roomTtl)
end
local oldest = seq + 1
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #first > 0 then oldest = tonumber(first[2]) end
if ARGV[2] == '' then return {seq, epoch, oldest, 'none', {}} end
local since = tonumber(ARGV[2])
if (ARGV[3] ~= '' and ARGV[3] ~= epoch) or since > seq then
  return {seq, epoch, oldest, 'all', redis.call('ZRANGE', KEYS[2], 0, -1)}
end
local covered = oldest
if since + 1 < oldest then
  local run = redis.call('ZRANGEBYSCORE', KEYS[4], oldest - 1, oldest - 1)
  if #run > 0 then covered = tonumber(run[1]) end
end
return {seq, epoch, oldest, 'after', redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. since, '+inf'), covered}
`;

/**
 * Shared head of the presence scripts. KEYS: conns (zset "user\\nconnection" scored by expiry),
 * users (hash user -> connection count), names (hash user -> name). ARGV[1] room, ARGV[2] channel,
 * ARGV[3] PRESENCE_MAX_MEMBERS, ARGV[4] TTL ms.
 * purge() drops expired connections (their instance stopped refreshing them: it crashed) and
 * announces users who thereby left, as the hub would have.
 */
const PRESENCE_HEAD = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local room, channel, maxMembers, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local function userOf(member)
  local i = member:match('^.*()\\n')
  return member:sub(1, i - 1)
end
local function purge()
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
  if #expired == 0 then return end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  for _, m in ipairs(expired) do
    local uid = userOf(m)
    if redis.call('HINCRBY', KEYS[2], uid, -1) <= 0 then
      local name = redis.call('HGET', KEYS[3], uid) or uid
      redis.call('HDEL', KEYS[2], uid)
      redis.call('HDEL', KEYS[3], uid)
      if redis.call('HLEN', KEYS[2]) < maxMembers then
        redis.call('PUBLISH', channel, 'p' .. cjson.encode({type = 'presence', room = room,
          user = {id = uid, name = name}, status = 'left'}))
      end
    end
  end
end
local function keep()
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ttl * 2) end
end
local function addConn(uid, name, conn)
  local first = 0
  if redis.call('ZADD', KEYS[1], now + ttl, uid .. '\\n' .. conn) == 1 then
    if redis.call('HINCRBY', KEYS[2], uid, 1) == 1 then first = 1 end
  end
  redis.call('HSET', KEYS[3], uid, name)
  return first
end
purge()
`;

/** ARGV[5..7]: user id, name, connection id. Returns 1 when it is the user's first connection. */
export const PRESENCE_ADD_LUA = `${PRESENCE_HEAD}
local first = addConn(ARGV[5], ARGV[6], ARGV[7])
keep()
return first
`;

/** ARGV[5..]: (user id, name, connection id) triples this instance holds: re-written with a new expiry. */
export const PRESENCE_REFRESH_LUA = `${PRESENCE_HEAD}
for i = 5, #ARGV, 3 do addConn(ARGV[i], ARGV[i + 1], ARGV[i + 2]) end
if redis.call('ZCARD', KEYS[1]) > 0 then keep() end
return 1
`;

/** ARGV[5..6]: user id, connection id. Returns 1 when it was the user's last connection. */
export const PRESENCE_REMOVE_LUA = `${PRESENCE_HEAD}
if redis.call('ZREM', KEYS[1], ARGV[5] .. '\\n' .. ARGV[6]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[5], -1) > 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[5])
redis.call('HDEL', KEYS[3], ARGV[5])
return 1
`;

/** Returns the number of distinct users. */
export const PRESENCE_COUNT_LUA = `${PRESENCE_HEAD}
return redis.call('HLEN', KEYS[2])
`;

/** ARGV[5]: limit. Returns a flat [id, name, ...] list of at most `limit` users. */
export const PRESENCE_MEMBERS_LUA = `${PRESENCE_HEAD}
local limit = tonumber(ARGV[5])
if limit <= 0 then return {} end
if redis.call('HLEN', KEYS[3]) <= limit then return redis.call('HGETALL', KEYS[3]) end
return redis.call('HRANDFIELD', KEYS[3], limit, 'WITHVALUES')
`;
