/** Test-only helpers for the Redis implementations (nothing in the app imports this file). */
import { Logger } from '@nestjs/common';
import { uniqueName } from './contract-kit.js';
import { deleteKeys, SHARED_REDIS_URL } from '../harness/redis.js';
import type { RedisClusterConfig } from '../../src/config/config.js';
import {
  openRedis,
  type RedisSettings,
  SharedConnection,
  waitReady,
} from '../../src/cluster/redis/connection.js';

/**
 * A unique key prefix, the connections opened under it, and the removal of every key under it (on
 * a Redis Cluster of the test's own, the keys go with the cluster).
 */
export class RedisNamespace {
  readonly prefix = `test:${uniqueName('ns')}:`;
  private readonly shared: SharedConnection[] = [];
  private readonly closers: (() => Promise<void>)[] = [];

  constructor(
    readonly url = SHARED_REDIS_URL,
    readonly cluster?: RedisClusterConfig,
  ) {}

  /** A namespace on a Redis Cluster (REDIS_CLUSTER_NODES of the test's RedisClusterSet). */
  static onCluster(nodeList: string): RedisNamespace {
    const nodes = nodeList.split(',').map((n) => ({ host: n.split(':')[0], port: Number(n.split(':')[1]) }));
    return new RedisNamespace('', { nodes });
  }

  settings(commandTimeoutMs = 1000): RedisSettings {
    if (this.cluster !== undefined)
      return { cluster: this.cluster, keyPrefix: this.prefix, commandTimeoutMs };
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
    if (this.cluster === undefined) await deleteKeys(this.url, this.prefix);
  }
}
