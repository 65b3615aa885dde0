/** Test-only helpers for the Redis implementations (nothing in the app imports this file). */
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { uniqueName } from './contract-kit.js';
import {
  openRedis,
  quit,
  type RedisSettings,
  SharedConnection,
  waitReady,
} from '../../src/cluster/redis/connection.js';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A unique key prefix, the connections opened under it, and the removal of every key under it. */
export class RedisNamespace {
  readonly prefix = `test:${uniqueName('ns')}:`;
  private readonly shared: SharedConnection[] = [];
  private readonly closers: (() => Promise<void>)[] = [];

  constructor(readonly url = TEST_REDIS_URL) {}

  settings(commandTimeoutMs = 1000): RedisSettings {
    return { url: this.url, keyPrefix: this.prefix, commandTimeoutMs };
  }

  /** A fresh command connection (one per simulated instance). */
  async connection(commandTimeoutMs = 1000): Promise<SharedConnection> {
    const shared = new SharedConnection(
      openRedis(this.settings(commandTimeoutMs), 'test-cmd', new Logger('test')),
    );
    this.shared.push(shared);
    await waitReady(shared.redis, 3000);
    return shared;
  }

  /** Registers something to close before the keys are removed. */
  track(close: () => Promise<void>): void {
    this.closers.push(close);
  }

  async dispose(): Promise<void> {
    await Promise.allSettled(this.closers.map((c) => c()));
    for (const s of this.shared) if (s.redis.status !== 'end') s.redis.disconnect(false);
    const admin = new Redis(this.url, { protocol: 2, maxRetriesPerRequest: 1 });
    try {
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await admin.del(...keys);
      } while (cursor !== '0');
    } finally {
      await quit(admin);
    }
  }
}
