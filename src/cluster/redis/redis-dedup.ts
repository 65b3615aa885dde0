import type { Redis } from 'ioredis';
import type { DedupEntry, IdempotencyStore } from '../idempotency.js';
import { type SharedConnection, unavailable } from './connection.js';
import { RedisKeys } from './keys.js';

/**
 * The idempotency window in Redis: one string per key under REDIS_KEY_PREFIX, SET NX PX (the first
 * answer wins, Redis expires it). Room publications keep their key beside the room instead (the
 * publish script checks it in the same step: `RedisKeys.idem`).
 */
export class RedisDedup implements IdempotencyStore {
  private readonly keys: RedisKeys;
  private readonly redis: Redis;
  private closed = false;

  constructor(
    keyPrefix: string,
    private readonly shared: SharedConnection,
  ) {
    this.keys = new RedisKeys(keyPrefix);
    this.redis = shared.acquire();
  }

  async get(key: string): Promise<DedupEntry | undefined> {
    let raw: string | null;
    try {
      raw = await this.redis.get(this.keys.dedup(key));
    } catch (err) {
      throw unavailable(err);
    }
    return raw === null ? undefined : (JSON.parse(raw) as DedupEntry);
  }

  async set(key: string, entry: DedupEntry, ttlMs: number): Promise<void> {
    if (ttlMs <= 0) return;
    try {
      await this.redis.set(this.keys.dedup(key), JSON.stringify(entry), 'PX', ttlMs, 'NX');
    } catch (err) {
      throw unavailable(err);
    }
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    try {
      return (await this.redis.set(this.keys.dedup(key), '{}', 'PX', Math.max(1, ttlMs), 'NX')) === 'OK';
    } catch (err) {
      throw unavailable(err);
    }
  }

  async release(key: string): Promise<void> {
    try {
      await this.redis.del(this.keys.dedup(key));
    } catch (err) {
      throw unavailable(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.shared.release();
  }
}
