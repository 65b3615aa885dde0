import type { DedupEntry, IdempotencyStore } from '../idempotency.js';
import { isCluster, type RedisClient, type SharedConnection, unavailable } from './connection.js';
import { RedisKeys, senderRecordValue } from './keys.js';
import { RecordTaker } from './record-taker.js';

/**
 * The idempotency window in Redis: one string per key under REDIS_KEY_PREFIX, SET NX PX (the first
 * answer wins, Redis expires it).
 *
 * A room message's id has a sender record (`RedisKeys.record`) holding the room the id was first
 * taken for (`take`). Its seq is in the room's idempotency key, `RedisKeys.idem`, beside the room's
 * other keys so that the publish script checks and sets it in the same atomic step: `take` reads the
 * seq from there. On a single Redis (in a Redis Cluster when the record's slot lives on the room's
 * node) the publish script takes the sender record itself and keeps the seq in it
 * (`{"room":...,"seq":N}`, see `RedisBroker.takesSenderRecord`), with no key of the room's.
 */
export class RedisDedup implements IdempotencyStore {
  private readonly keys: RedisKeys;
  private readonly redis: RedisClient;
  /** A turn's takes in one script call (per node in a Redis Cluster). */
  private readonly taker: RecordTaker;
  private closed = false;

  constructor(
    keyPrefix: string,
    private readonly shared: SharedConnection,
  ) {
    this.redis = shared.acquire();
    this.keys = new RedisKeys(keyPrefix, isCluster(this.redis));
    this.taker = new RecordTaker(this.redis, shared.turn);
  }

  async get(key: string): Promise<DedupEntry | undefined> {
    let raw: string | null;
    try {
      raw = await this.redis.get(this.keys.record(key));
    } catch (err) {
      throw unavailable(err);
    }
    return raw === null ? undefined : (JSON.parse(raw) as DedupEntry);
  }

  async set(key: string, entry: DedupEntry, ttlMs: number): Promise<void> {
    if (ttlMs <= 0) return;
    try {
      await this.redis.set(this.keys.record(key), JSON.stringify(entry), 'PX', ttlMs, 'NX');
    } catch (err) {
      throw unavailable(err);
    }
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    try {
      return (await this.redis.set(this.keys.record(key), '{}', 'PX', Math.max(1, ttlMs), 'NX')) === 'OK';
    } catch (err) {
      throw unavailable(err);
    }
  }

  /**
   * Takes the sender record. Chained with `then`, not awaited: on a Redis Cluster two client
   * messages in three come this way, and an async function cost a promise and a microtask more.
   */
  take(key: string, room: string, ttlMs: number): Promise<DedupEntry | undefined> {
    return this.taker.take(this.keys.record(key), senderRecordValue(room), Math.max(1, ttlMs)).then(
      (held) => (held === null ? undefined : this.found(held, key, room, ttlMs)),
      (err: unknown) => {
        throw unavailable(err);
      },
    );
  }

  /** What a record found taken answers (see priorPublication). */
  private async found(held: string, key: string, room: string, ttlMs: number): Promise<DedupEntry> {
    const recorded = JSON.parse(held) as DedupEntry;
    try {
      if (recorded.seq === undefined) return await priorPublication(this.redis, this.keys, recorded, key);
      if (recorded.room === room) {
        // A record the single-Redis publish script took (it keeps the seq there and sets no key of
        // the room's): the room's key is set from it, so that the publication this caller makes
        // next (REDIS_MIN_REPLICAS) answers the original seq instead of publishing it again.
        await this.redis.set(this.keys.idem(room, key), recorded.seq, 'PX', Math.max(1, ttlMs), 'NX');
      }
    } catch (err) {
      throw unavailable(err);
    }
    return recorded;
  }

  async release(key: string): Promise<void> {
    try {
      await this.redis.del(this.keys.record(key));
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

/**
 * What a sender record found taken (`prior`, parsed) answers for `key`: the room the id was taken
 * for, and the seq of its publication there, read from the room's idempotency key when the record
 * does not hold it, once it is known. Used by `take` and by the publish script's caller when the
 * script found the record taken.
 */
export async function priorPublication(
  redis: RedisClient,
  keys: RedisKeys,
  prior: DedupEntry,
  key: string,
): Promise<DedupEntry> {
  if (prior.room !== undefined && prior.seq === undefined) {
    const seq = await redis.get(keys.idem(prior.room, key));
    if (seq !== null) prior.seq = Number(seq);
  }
  return prior;
}
