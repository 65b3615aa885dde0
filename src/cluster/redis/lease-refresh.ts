import type { Logger } from '@nestjs/common';
import { type BatchCommand, execBatch, firstError, type RedisClient } from './connection.js';

/**
 * Keeps an instance's own entries in Redis (presence connections, user leases) from expiring: every
 * third of their TTL (at least every 100 ms; the timer does not hold the process) it sends the
 * commands `batch` builds, which re-write the entries with a fresh expiry, as one pipeline (in a
 * Redis Cluster, one per shard). One run at a time, none while Redis is not ready or after `stop()`;
 * a failure is logged as `<what> failed: <message>` and the next period tries again.
 */
export class LeaseRefresh {
  private readonly timer: NodeJS.Timeout;
  private running = false;
  private stopped = false;

  constructor(
    private readonly redis: RedisClient,
    ttlMs: number,
    private readonly batch: () => BatchCommand[],
    private readonly logger: Logger,
    private readonly what: string,
  ) {
    this.timer = setInterval(() => void this.run(), Math.max(100, Math.floor(ttlMs / 3)));
    this.timer.unref();
  }

  async run(): Promise<void> {
    if (this.running || this.stopped || this.redis.status !== 'ready') return;
    this.running = true;
    try {
      const failed = firstError(await execBatch(this.redis, this.batch()));
      if (failed !== null) throw failed;
    } catch (err) {
      this.logger.warn(`${this.what} failed: ${(err as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}
