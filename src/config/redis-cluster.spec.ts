import { clusterOptions, redisSettings, targetLabel } from '../cluster/redis/connection.js';
import { loadConfig, usesRedis } from './config.js';
import { configProblems as problems } from '../../test/harness/config-problems.js';

describe('Redis Cluster settings', () => {
  it('reads the nodes and the password; they replace REDIS_URL', () => {
    const config = loadConfig({
      REDIS_CLUSTER_NODES: '10.0.0.5:6379, redis-b:6380,[::1]:6381',
      REDIS_PASSWORD: 'np',
    });
    expect(usesRedis(config)).toBe(true);
    expect(config.redisUrl).toBeUndefined();
    expect(config.redisCluster).toEqual({
      nodes: [
        { host: '10.0.0.5', port: 6379 },
        { host: 'redis-b', port: 6380 },
        { host: '::1', port: 6381 },
      ],
      password: 'np',
    });
    // Every connection is built from these: a Cluster client that never queues or re-sends.
    const settings = redisSettings(config);
    expect(clusterOptions(settings, 'x')).toMatchObject({
      enableOfflineQueue: false,
      retryDelayOnFailover: 0,
      redisOptions: { password: 'np', maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false },
    });
    expect(targetLabel(settings)).toBe('cluster 10.0.0.5:6379,redis-b:6380,::1:6381');
  });

  it('refuses conflicting settings with a clear message', () => {
    expect(problems({ REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'redis://x:1' })).toEqual([
      'REDIS_URL and REDIS_CLUSTER_NODES: set one (Cluster mode finds every node itself)',
    ]);
    expect(
      problems({ REDIS_CLUSTER_NODES: 'a:1', REDIS_SENTINELS: 's:1', REDIS_SENTINEL_MASTER: 'm' }).join(),
    ).toMatch(/REDIS_SENTINELS and REDIS_CLUSTER_NODES: set one/);
    expect(problems({ REDIS_CLUSTER_NODES: 'a:1,b' }).join()).toMatch(
      /REDIS_CLUSTER_NODES: "b" is not host:port/,
    );
    expect(problems({ REDIS_CLUSTER_NODES: 'a:1', REDIS_MIN_REPLICAS: '1' }).join()).toMatch(
      /REDIS_MIN_REPLICAS with REDIS_CLUSTER_NODES: not supported/,
    );
    expect(problems({ REDIS_CLUSTER_NODES: 'a:1', REDIS_KEY_PREFIX: '{gw}:' }).join()).toMatch(
      /REDIS_KEY_PREFIX with REDIS_CLUSTER_NODES: no braces/,
    );
    // The password belongs to Sentinel or Cluster mode; with REDIS_URL it goes in the URL.
    expect(problems({ REDIS_CLUSTER_NODES: 'a:1', REDIS_PASSWORD: 'p' })).toEqual([]);
    expect(problems({ REDIS_PASSWORD: 'p' }).join()).toMatch(/REDIS_PASSWORD: only with REDIS_SENTINELS or/);
  });
});
