import { Logger } from '@nestjs/common';
import { type BatchCommand, execBatch, firstError, type RedisClient } from './connection.js';
import type { RedisKeys } from './keys.js';

/** Rooms per pipeline: bounds the size of one round trip. */
const CHUNK = 1000;
/** However long REDIS_ROOM_TTL_SEC is, the rooms are refreshed at least this often. */
const MAX_INTERVAL_MS = 10 * 60_000;

/**
 * Keeps the keys of the rooms this instance has members in from expiring (REDIS_ROOM_TTL_SEC): a
 * room's keys otherwise expire after the TTL without a publish, and the room would start over at seq
 * 1 with a new epoch under its members. Every quarter of the TTL (at most every 10 minutes) it sends
 * PEXPIRE for each room's meta, log and skips keys, pipelined in chunks (in a Redis Cluster, one pipeline
 * per shard and chunk). PEXPIRE creates no key: a room nobody published to stays without keys.
 */
export class RoomTtlRefresh {
  private readonly logger = new Logger('RoomTtlRefresh');
  private readonly timer: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly ttlMs: number,
    private readonly rooms: () => Iterable<string>,
  ) {
    const every = Math.max(100, Math.min(Math.floor(ttlMs / 4), MAX_INTERVAL_MS));
    this.timer = setInterval(() => void this.refresh(), every);
    this.timer.unref();
  }

  async refresh(): Promise<void> {
    if (this.running || this.redis.status !== 'ready') return;
    this.running = true;
    try {
      let batch: BatchCommand[] = [];
      for (const room of this.rooms()) {
        batch.push(
          ['pexpire', this.keys.meta(room), this.ttlMs],
          ['pexpire', this.keys.log(room), this.ttlMs],
          ['pexpire', this.keys.skips(room), this.ttlMs],
        );
        if (batch.length >= 3 * CHUNK) {
          await this.exec(batch);
          batch = [];
        }
      }
      await this.exec(batch);
    } catch (err) {
      // Redis is down: the next period tries again (the TTL leaves three more of them).
      this.logger.warn(`room TTL refresh failed: ${(err as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  private async exec(batch: BatchCommand[]): Promise<void> {
    const failed = firstError(await execBatch(this.redis, batch));
    if (failed !== null) throw failed;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
