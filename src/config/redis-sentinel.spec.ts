import { targetOptions } from '../cluster/redis/connection.js';
import { loadConfig, usesRedis } from './config.js';
import { configProblems as problems } from '../../test/harness/config-problems.js';

describe('Sentinel and replica settings', () => {
  it('reads the sentinels, the master name and the passwords; they replace REDIS_URL', () => {
    const config = loadConfig({
      REDIS_SENTINELS: '10.0.0.5:26379, sentinel-b:26380,[::1]:26381',
      REDIS_SENTINEL_MASTER: 'mymaster',
      REDIS_SENTINEL_PASSWORD: 'sp',
      REDIS_PASSWORD: 'rp',
      REDIS_MIN_REPLICAS: '1',
    });
    expect(usesRedis(config)).toBe(true);
    expect(config.redisUrl).toBeUndefined();
    expect(config.redisSentinel).toEqual({
      sentinels: [
        { host: '10.0.0.5', port: 26379 },
        { host: 'sentinel-b', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      masterName: 'mymaster',
      sentinelPassword: 'sp',
      password: 'rp',
    });
    expect([config.redisMinReplicas, config.redisWaitMs]).toEqual([1, 1000]);
    // Every connection is built from these options: Sentinel mode, the master role.
    expect(targetOptions({ sentinel: config.redisSentinel })).toMatchObject({
      sentinels: config.redisSentinel!.sentinels,
      name: 'mymaster',
      role: 'master',
      sentinelPassword: 'sp',
      password: 'rp',
    });
  });

  it('defaults: no Sentinel, no WAIT', () => {
    const config = loadConfig({});
    expect(config.redisSentinel).toBeUndefined();
    expect([config.redisMinReplicas, config.redisWaitMs]).toEqual([0, 1000]);
    expect(usesRedis(config)).toBe(false);
  });

  it('names every inconsistent Sentinel setting', () => {
    expect(problems({ REDIS_SENTINELS: 'a:1,b', REDIS_URL: 'redis://x:1' }).join('\n')).toMatch(
      /"b" is not host:port[\s\S]*REDIS_SENTINEL_MASTER[\s\S]*REDIS_URL and REDIS_SENTINELS/,
    );
    expect(problems({ REDIS_SENTINEL_MASTER: 'm' })).toEqual([
      'REDIS_SENTINEL_MASTER: set REDIS_SENTINELS as well',
    ]);
    expect(problems({ REDIS_URL: 'redis://x:1', REDIS_PASSWORD: 'p' }).join()).toMatch(/put it in the URL/);
    expect(problems({ REDIS_MIN_REPLICAS: '1' }).join()).toMatch(/REDIS_MIN_REPLICAS: needs REDIS_URL/);
    expect(problems({ REDIS_URL: 'redis://x:1', REDIS_WAIT_MS: '0' }).join()).toMatch(/REDIS_WAIT_MS/);
  });

  it('REDIS_URL keeps working through the same factory', () => {
    expect(targetOptions({ url: 'rediss://u:p%40ss@h:7000/2' })).toEqual({
      host: 'h',
      port: 7000,
      username: 'u',
      password: 'p@ss',
      db: 2,
      tls: {},
    });
  });
});
