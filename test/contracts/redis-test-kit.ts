/** Test-only helpers for the Redis implementations (nothing in the app imports this file). */
import { Logger } from '@nestjs/common';
import { uniqueName } from './contract-kit.js';
import { deleteKeys, SHARED_REDIS_URL } from '../harness/redis.js';
import {
  openRedis,
  type RedisSettings,
  SharedConnection,
  waitReady,
} from '../../src/cluster/redis/connection.js';

/** A unique key prefix, the connections opened under it, and the removal of every key under it. */
export class RedisNamespace {
  readonly prefix = `test:${uniqueName('ns')}:`;
  private readonly shared: SharedConnection[] = [];
  private readonly closers: (() => Promise<void>)[] = [];

  constructor(readonly url = SHARED_REDIS_URL) {}

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
    await deleteKeys(this.url, this.prefix);
  }
}
