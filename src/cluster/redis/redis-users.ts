import { Logger } from '@nestjs/common';
import type { UserDirectory, UserPresence } from '../users.js';
import {
  type BatchCommand,
  isCluster,
  type RedisClient,
  type SharedConnection,
  unavailable,
} from './connection.js';
import { RedisKeys } from './keys.js';
import { LeaseRefresh } from './lease-refresh.js';

// Every script first drops the leases that expired (their instance stopped refreshing them).
const PRUNE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for i = 1, #dead do
  redis.call('ZREM', KEYS[1], dead[i])
  redis.call('HDEL', KEYS[2], dead[i])
end
`;

/** KEYS: leases, rooms. ARGV: connection, limit, ttlMs. 1 = leased, 0 = the user is at the limit. */
const ACQUIRE_LUA = `${PRUNE}
local limit = tonumber(ARGV[2])
if limit > 0 and not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= limit then
  return 0
end
local ttl = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * ttl)
return 1
`;

/** KEYS: leases, rooms. ARGV: ttlMs, then (connection, rooms JSON) pairs: re-writes this instance's leases. */
const REFRESH_LUA = `${PRUNE}
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
  if ARGV[i + 1] == '[]' then
    redis.call('HDEL', KEYS[2], ARGV[i])
  else
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], 2 * ttl)
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], 2 * ttl) end
return 1
`;

/** KEYS: leases, rooms. ARGV: connection. */
const RELEASE_LUA = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`;

/** KEYS: leases, rooms. Answers {live lease count, rooms JSON of each live lease...}. */
const LOOKUP_LUA = `${PRUNE}
local out = { redis.call('ZCARD', KEYS[1]) }
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do out[#out + 1] = v end
return out
`;

type Script = (...args: (string | number)[]) => Promise<unknown>;
type ScriptedRedis = RedisClient & {
  gwUserAcquire: Script;
  gwUserRefresh: Script;
  gwUserRelease: Script;
  gwUserLookup: Script;
};

/**
 * The cluster-wide user directory: per user a sorted set of connection leases scored by expiry and a
 * hash of each connection's rooms. Each instance re-writes its own leases every TTL/3
 * (PRESENCE_TTL_MS, like presence), so the leases of an instance that crashed expire by themselves
 * and stop counting toward MAX_CONNECTIONS_PER_USER.
 */
export class RedisUsers implements UserDirectory {
  private readonly logger = new Logger('RedisUsers');
  private readonly keys: RedisKeys;
  private readonly redis: ScriptedRedis;
  /** This instance's leases: user -> connection -> rooms. */
  private readonly local = new Map<string, Map<string, readonly string[]>>();
  private readonly refresher: LeaseRefresh;
  private closed = false;

  constructor(
    keyPrefix: string,
    private readonly ttlMs: number,
    private readonly shared: SharedConnection,
  ) {
    this.redis = shared.acquire() as ScriptedRedis;
    this.keys = new RedisKeys(keyPrefix, isCluster(this.redis));
    this.redis.defineCommand('gwUserAcquire', { numberOfKeys: 2, lua: ACQUIRE_LUA });
    this.redis.defineCommand('gwUserRefresh', { numberOfKeys: 2, lua: REFRESH_LUA });
    this.redis.defineCommand('gwUserRelease', { numberOfKeys: 2, lua: RELEASE_LUA });
    this.redis.defineCommand('gwUserLookup', { numberOfKeys: 2, lua: LOOKUP_LUA });
    this.refresher = new LeaseRefresh(
      this.redis,
      ttlMs,
      () => this.refreshBatch(),
      this.logger,
      'user lease refresh',
    );
  }

  async acquire(userId: string, connectionId: string, limit: number): Promise<boolean> {
    const ok = (await this.run(this.redis.gwUserAcquire, userId, connectionId, limit, this.ttlMs)) === 1;
    if (ok) {
      let conns = this.local.get(userId);
      if (conns === undefined) this.local.set(userId, (conns = new Map<string, readonly string[]>()));
      conns.set(connectionId, []);
    }
    return ok;
  }

  async update(userId: string, connectionId: string, rooms: readonly string[]): Promise<void> {
    const conns = this.local.get(userId);
    if (conns === undefined || !conns.has(connectionId)) return;
    conns.set(connectionId, rooms);
    await this.run(this.redis.gwUserRefresh, userId, this.ttlMs, connectionId, JSON.stringify(rooms));
  }

  async release(userId: string, connectionId: string): Promise<void> {
    const conns = this.local.get(userId);
    if (conns?.delete(connectionId) && conns.size === 0) this.local.delete(userId);
    await this.run(this.redis.gwUserRelease, userId, connectionId);
  }

  async lookup(userId: string): Promise<UserPresence> {
    const [count, ...lists] = (await this.run(this.redis.gwUserLookup, userId)) as [number, ...string[]];
    const rooms = new Set<string>();
    for (const json of lists) for (const room of JSON.parse(json) as string[]) rooms.add(room);
    return { connections: Number(count), rooms: [...rooms].sort() };
  }

  /** Re-writes this instance's leases with a fresh expiry (restores them after Redis lost them). */
  refresh(): Promise<void> {
    return this.refresher.run();
  }

  private refreshBatch(): BatchCommand[] {
    const batch: BatchCommand[] = [];
    for (const [userId, conns] of this.local) {
      const args: string[] = [];
      for (const [connectionId, rooms] of conns) args.push(connectionId, JSON.stringify(rooms));
      const { keys, ttlMs } = this;
      batch.push(['gwUserRefresh', keys.userLeases(userId), keys.userRooms(userId), ttlMs, ...args]);
    }
    return batch;
  }

  private async run(script: Script, userId: string, ...args: (string | number)[]): Promise<unknown> {
    try {
      return await script.call(
        this.redis,
        this.keys.userLeases(userId),
        this.keys.userRooms(userId),
        ...args,
      );
    } catch (err) {
      throw unavailable(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.refresher.stop();
    this.local.clear();
    await this.shared.release();
  }
}
