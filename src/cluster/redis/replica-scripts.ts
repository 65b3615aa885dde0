import { RECORD_SKIPS_LUA } from './scripts.js';

/**
 * The publish scripts of REDIS_MIN_REPLICAS > 0 (see replica-confirmation.ts). A message is stored
 * first, out of sight; only after WAIT has seen it on the replicas does the second script make it
 * part of the room: history, the room's `seq` (what joins and history reads report) and the fan-out.
 * The room's `seq` field therefore always means "confirmed", and the history script reads rooms of
 * both modes unchanged; `aseq` is the last seq assigned, `pending` holds the stored messages.
 */

/**
 * Store a room message without publishing it. A room without keys gets the candidate epoch, and
 * skipped seqs recorded before (another epoch's) are dropped.
 * KEYS: meta, pending, idem, skips. ARGV: epoch candidate, JSON head (up to `"seq":`), JSON tail,
 * idempotency TTL ms (0: no key), room key TTL ms (0: none), skip history (1: the confirmation
 * publishes it but keeps it out of history; stored with a leading `!`, which no JSON message starts
 * with).
 * Returns {stored (1; 0 for a retry answered with the original seq), seq, epoch}.
 */
export const STORE_UNCONFIRMED_LUA = `
local idemTtl = tonumber(ARGV[4])
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if idemTtl > 0 and epoch then
  local prior = redis.call('GET', KEYS[3])
  if prior then
    -- The original may have been stored by another connection and not be on the replicas yet: a
    -- write here makes this connection's WAIT cover it (WAIT waits for the connection's last write).
    redis.call('HINCRBY', KEYS[1], 'aseq', 0)
    return {0, tonumber(prior), epoch}
  end
end
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
  redis.call('DEL', KEYS[4])
end
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local aseq = tonumber(redis.call('HGET', KEYS[1], 'aseq') or '0')
if aseq < seq then aseq = seq end
aseq = aseq + 1
redis.call('HSET', KEYS[1], 'aseq', aseq)
local mark = ''
if ARGV[6] == '1' then mark = '!' end
redis.call('ZADD', KEYS[2], aseq, mark .. ARGV[2] .. aseq .. ARGV[3])
if idemTtl > 0 then redis.call('SET', KEYS[3], aseq, 'PX', idemTtl) end
local roomTtl = tonumber(ARGV[5])
if roomTtl > 0 then
  redis.call('PEXPIRE', KEYS[1], roomTtl)
  redis.call('PEXPIRE', KEYS[2], roomTtl)
end
return {1, aseq, epoch}
`;

/**
 * Confirm a room's stored messages up to a seq (WAIT has seen them on the replicas): move them to
 * the history (those stored with skip history: their seqs to the skips key, RECORD_SKIPS_LUA),
 * advance `seq` and PUBLISH them, in seq order, in one step. Every confirmation covers the stored
 * messages below it too (replication is in order), whichever instance stored them, so a message is
 * fanned out once, by the first confirmation that reaches it.
 * KEYS: meta, pending, log, skips. ARGV: seq, epoch of the store, history size, channel, room key
 * TTL ms.
 * Returns the room's confirmed seq, or -1 when the store is gone (another epoch, or a failover to a
 * replica that never had it).
 */
export const CONFIRM_LUA = `${RECORD_SKIPS_LUA}
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if epoch ~= ARGV[2] then return -1 end
local upto = tonumber(ARGV[1])
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if seq >= upto then return seq end
local aseq = tonumber(redis.call('HGET', KEYS[1], 'aseq') or '0')
if aseq < upto then return -1 end
local stored = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. seq, upto, 'WITHSCORES')
local size = tonumber(ARGV[3])
local skipped = {}
for i = 1, #stored, 2 do
  local json = stored[i]
  if string.byte(json, 1) == 33 then
    json = string.sub(json, 2)
    if size > 0 then skipped[#skipped + 1] = tonumber(stored[i + 1]) end
  elseif size > 0 then
    redis.call('ZADD', KEYS[3], stored[i + 1], json)
  end
  redis.call('PUBLISH', ARGV[4], 'm' .. epoch .. '|' .. json)
end
if size > 0 then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -size - 1) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', upto)
redis.call('HSET', KEYS[1], 'seq', upto)
local roomTtl = tonumber(ARGV[5])
if #skipped > 0 then recordSkips(KEYS[4], skipped, size, roomTtl) end
if roomTtl > 0 then
  redis.call('PEXPIRE', KEYS[1], roomTtl)
  redis.call('PEXPIRE', KEYS[3], roomTtl)
end
return upto
`;

/**
 * Before confirming what a failover left pending (see ReplicaConfirmation.settle): a write, so that
 * this connection's WAIT covers every stored message.
 * KEYS: meta, pending. Returns the last assigned seq when messages wait for confirmation, else -1.
 */
export const SETTLE_LUA = `
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local aseq = tonumber(redis.call('HGET', KEYS[1], 'aseq') or '0')
if aseq <= seq or redis.call('ZCARD', KEYS[2]) == 0 then return -1 end
redis.call('HINCRBY', KEYS[1], 'aseq', 0)
return aseq
`;
