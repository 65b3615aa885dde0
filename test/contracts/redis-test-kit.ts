/** Test-only helpers for the Redis implementations (nothing in the app imports this file). */
import { Logger } from '@nestjs/common';
import { brokerContract } from './broker.contract.js';
import { uniqueName } from './contract-kit.js';
import { idempotencyContract } from './idempotency.contract.js';
import { presenceContract } from './presence.contract.js';
import { usersContract } from './users.contract.js';
import { deleteKeys, SHARED_REDIS_URL } from '../harness/redis.js';
import { poll } from '../harness/wait.js';
import type { RedisClusterConfig } from '../../src/config/config.js';
import {
  openRedis,
  type RedisSettings,
  SharedConnection,
  waitReady,
} from '../../src/cluster/redis/connection.js';
import { RedisBroker } from '../../src/cluster/redis/redis-broker.js';
import { RedisDedup } from '../../src/cluster/redis/redis-dedup.js';
import { RedisPresence } from '../../src/cluster/redis/redis-presence.js';
import { RedisUsers } from '../../src/cluster/redis/redis-users.js';

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

// Each seam as one gateway instance would have it in `ns`: its own connections, closed by `ns.dispose()`.

/** A broker with its own command and subscriber connections, resolved once it is healthy. */
export async function brokerIn(ns: RedisNamespace, historySize = 5, eventsMaxlen = 0): Promise<RedisBroker> {
  const broker = new RedisBroker(
    { ...ns.settings(), historySize, roomTtlMs: 60000, eventsMaxlen },
    await ns.connection(),
  );
  ns.track(() => broker.close());
  await poll(() => broker.isHealthy(), 5000, 'broker connected');
  return broker;
}

export async function presenceIn(ns: RedisNamespace, ttlMs = 30000): Promise<RedisPresence> {
  const p = new RedisPresence(
    { keyPrefix: ns.prefix, ttlMs, presenceMaxMembers: 1000 },
    await ns.connection(),
  );
  ns.track(() => p.close());
  return p;
}

export async function usersIn(ns: RedisNamespace, ttlMs = 30000): Promise<RedisUsers> {
  const u = new RedisUsers(ns.prefix, ttlMs, await ns.connection());
  ns.track(() => u.close());
  return u;
}

export async function dedupIn(ns: RedisNamespace): Promise<RedisDedup> {
  const d = new RedisDedup(ns.prefix, await ns.connection());
  ns.track(() => d.close());
  return d;
}

/**
 * The broker, presence, idempotency and users contracts against one Redis flavour (one Redis, a
 * Redis Cluster): each suite in a fresh namespace from `namespace`, named `name` in the suite titles.
 */
export function redisContracts(name: string, namespace: () => RedisNamespace): void {
  brokerContract(name, () => {
    const ns = namespace();
    return { create: (historySize) => brokerIn(ns, historySize), dispose: () => ns.dispose() };
  });
  presenceContract(name, () => {
    const ns = namespace();
    return { create: () => presenceIn(ns), dispose: () => ns.dispose() };
  });
  idempotencyContract(name, () => {
    const ns = namespace();
    return { create: () => dedupIn(ns), dispose: () => ns.dispose() };
  });
  usersContract(name, () => {
    const ns = namespace();
    return { create: () => usersIn(ns), dispose: () => ns.dispose() };
  });
}
